"""python -m export NAME --part decoder --format litert --quantize int8 [--io int8] --out DIR

Exit status: 0 all artifacts written and within tolerance; 1 an error (one line on stderr, nothing half
written); 2 bad arguments; 3 artifacts written but a check failed (see export.json)."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EPILOG = """examples:
  python -m export vae_mnist --part decoder --format litert --quantize none,float16,int8
  python -m export ae_mnist --part all --format all --quantize int8 --io int8 --out /tmp/ae_exports
  python -m export saved_models/cvae_mnist --part decoder --quantize int8

NAME is a registry name (pretrained weights in saved_models/NAME) or a folder holding model.keras.
Default --out: <model folder>/exports. Each artifact's size, error against Keras, task metric, latency
and (LiteRT) op list are merged into <out>/export.json."""


def _csv(choices, allow_all=True):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if allow_all and items == ["all"]:
            return list(choices)
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}; choose from {', '.join(choices)}" + (" or all" if allow_all else "")
                + " (comma-separated for several)")
        return items
    return parse


def parser():
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__.split("\n\n")[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="registry name or folder with model.keras")
    p.add_argument("--part", default="decoder",
                   help="encoder, decoder, generator, classifier or all (parts the model has); comma-separated for several "
                        "(default: decoder)")
    p.add_argument("--format", default="litert", type=_csv(("savedmodel", "litert")),
                   help="savedmodel, litert or all (default: litert)")
    p.add_argument("--quantize", default=["none"], type=_csv(("none", "float16", "dynamic", "int8")),
                   help="LiteRT weights/activations: none (float32), float16, dynamic, int8 (full integer, "
                        "calibrated on training data); comma-separated or all (default: none)")
    p.add_argument("--io", default="float", choices=("float", "int8"),
                   help="int8 models only: int8 input/output tensors (scale and zero point in export.json) "
                        "instead of float (default: float)")
    p.add_argument("--out", default=None, help="output folder (default: <model folder>/exports)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurements")
    p.add_argument("--verbose", action="store_true", help="let TensorFlow's and the converter's own logs through")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    parts = [t.strip() for t in args.part.split(",") if t.strip()]
    from export.names import PARTS

    bad = [t for t in parts if t not in PARTS + ("all",)]
    if bad or not parts:
        parser().error(f"argument --part: invalid value {args.part!r}; choose from {', '.join(PARTS)} or all")
    if args.io == "int8" and "litert" in args.format and any(q != "int8" for q in args.quantize):
        parser().error("--io int8 needs --quantize int8")
    if args.verbose:
        return run(args, argv, sys.stderr)
    # TensorFlow, absl and the LiteRT runtime log to fd 2 from C++ on import and on success; keep that out
    # of the way so stderr carries our progress and, on failure, one error line.
    saved = os.dup(2)
    err = os.fdopen(os.dup(saved), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        return run(args, argv, err)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        err.close()


def run(args, argv, err):
    parts = [t.strip() for t in args.part.split(",") if t.strip()]
    try:
        import export
        from export.api import export_all
        from zoo.errors import ZooError
    except Exception as e:  # broken install
        print(f"error: cannot import the exporter: {type(e).__name__}: {e}", file=err)
        return 1
    command = "python -m export " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        out, reports = export_all(
            args.name, parts="all" if "all" in parts else parts, formats=args.format, quantize=args.quantize,
            io=args.io, out=args.out, timing=not args.no_latency, command=command,
            progress=lambda msg: print(f"exporting {msg} ...", file=err, flush=True))
    except ZooError as e:
        print(f"error: {e}", file=err)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=err)
        return 130
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"error: export failed: {type(e).__name__}: {first}", file=err)
        return 1
    print(table(reports))
    print(f"wrote {out / export.MANIFEST}")
    failed = [r["file"] for r in reports if not r["passed"]]
    if failed:
        print(f"error: checks failed for {', '.join(failed)} (see {out / export.MANIFEST})", file=err)
        return 3
    return 0


def table(reports):
    head = f"{'file':32} {'bytes':>9} {'max|d|':>9} {'mean|d|':>9} {'metric':>9} {'keras':>9} {'rel':>8} " \
           f"{'ms':>7} {'keras ms':>8}  ok"
    rows = [head]
    for r in reports:
        m = r.get("metric") or {}
        lat = r.get("latency_ms_single") or {}

        def f(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "-".rjust(int(fmt.lstrip("+").split(".")[0]))
        rows.append(f"{r['file']:32} {r['size_bytes']:>9} {f(r['max_abs_diff'], '9.2e')} "
                    f"{f(r['mean_abs_diff'], '9.2e')} {f(m.get('exported'), '9.3f')} {f(m.get('keras'), '9.3f')} "
                    f"{f(m.get('relative_diff'), '+8.4f')} {f(lat.get('exported'), '7.3f')} "
                    f"{f(lat.get('keras_call'), '8.3f')}  {'yes' if r['passed'] else 'NO'}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
