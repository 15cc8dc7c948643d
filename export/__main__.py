"""python -m export NAME --part P --format litert|savedmodel --quantize none,float16,dynamic,int8 [--io int8]
[--target micro] [--batch N] [--out DIR | --publish]

Exit status: 0 every file written and within tolerance; 1 an error (one line on stderr, nothing half written);
2 bad arguments; 3 files written but a check failed (see export.json)."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EPILOG = """examples:
  python -m export vae_mnist --part decoder --quantize none,float16,int8     # -> runs/vae_mnist/exports
  python -m export vae_mnist --part decoder --quantize int8 --io int8 --publish   # -> saved_models/vae_mnist/exports
  python -m export ae_mnist --part autoencoder --format all --out /tmp/ae
  python -m export mnist_classifier --part classifier --quantize int8 --batch 1   # fixed batch (LiteRT.js)
  python -m export runs/ae_mnist --part all --quantize int8
  python -m export vae_mnist --part decoder --quantize int8 --io int8 --target micro   # + C array for TFLM

NAME is a registered name (the shipped weights in saved_models/NAME) or a folder holding model.keras. Which
parts exist is up to the model's family (an unknown --part lists them). Files go to runs/NAME/exports unless
--out or --publish (saved_models/NAME/exports, the shipped exports) says otherwise. Each file's size, error
against Keras, task metric, latency and (LiteRT) op list are merged into export.json beside it, with the
sha256 of the model.keras it came from."""


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


def _batch(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected an integer in [1, 1,000,000], got {value}")
    return value


def parser():
    from export.names import FORMATS, IO, QUANTIZE

    p = argparse.ArgumentParser(prog="python -m export", description=__doc__.split("\n\n")[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="registered name or folder with model.keras")
    p.add_argument("--part", default="decoder",
                   help="a part the model's family exports (e.g. encoder, decoder, autoencoder, classifier), "
                        "comma-separated for several, or all (default: decoder)")
    p.add_argument("--format", default=["litert"], type=_csv(FORMATS), help="litert, savedmodel or all "
                   "(default: litert)")
    p.add_argument("--quantize", default=["none"], type=_csv(QUANTIZE),
                   help="LiteRT: none (float32), float16, dynamic (int8 weights), int8 (full integer, calibrated "
                        "on the part's own inputs from training data); comma-separated or all (default: none)")
    p.add_argument("--io", default="float", choices=IO,
                   help="int8 files only: int8 input/output tensors (scale and zero point in export.json)")
    p.add_argument("--target", default=None, choices=["micro"],
                   help="int8 only: also TFLite Micro's C source and header (the model as an aligned byte array) "
                        "and, in export.json, its arena bytes, ops and parity with LiteRT's reference kernels")
    p.add_argument("--batch", type=_batch, default=None,
                   help="fix the batch dimension (LiteRT.js refuses a dynamic one); default: dynamic")
    p.add_argument("--out", default=None, help="output folder (default: runs/NAME/exports)")
    p.add_argument("--publish", action="store_true",
                   help="write into saved_models/NAME/exports, the shipped exports (registered names only)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurements")
    p.add_argument("--verbose", action="store_true", help="let TensorFlow's and the converter's own logs through")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.io == "int8" and "litert" in args.format and any(q != "int8" for q in args.quantize):
        p.error("--io int8 needs --quantize int8")
    if args.target == "micro" and ("litert" not in args.format or any(q != "int8" for q in args.quantize)):
        p.error("--target micro needs --format litert --quantize int8 (TFLite Micro runs full-integer files)")
    if args.publish and args.out:
        p.error("--publish writes into saved_models/NAME/exports; drop --out")
    if args.verbose or args.debug:
        return run(args, argv, sys.stderr)
    # TensorFlow, absl and the LiteRT runtime log to fd 2 from C++ on import and on success; keep that out of the
    # way so stderr carries our progress and, on failure, one error line.
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
    parts = [t.strip() for t in args.part.split(",") if t.strip()] or ["decoder"]
    command = "python -m export " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        from export.api import export_all
        from export.names import MANIFEST

        out, reports = export_all(args.name, parts=parts, formats=args.format, quantize=args.quantize, io=args.io,
                                  out=args.out, batch=args.batch, publish=args.publish, timing=not args.no_latency,
                                  target=args.target,
                                  command=command, progress=lambda msg: print(msg, file=err, flush=True))
    except KeyboardInterrupt:
        print("error: interrupted", file=err)
        return 130
    except Exception as e:
        if args.debug:
            raise
        from_zoo = type(e).__module__.startswith(("zoo", "export"))
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"error: {text}" if from_zoo and text else f"error: export failed: {type(e).__name__}: {text}", file=err)
        return 1
    print(table(reports))
    print(f"{'published' if args.publish else 'wrote'} {out / MANIFEST}")
    failed = [r["file"] for r in reports if not r["passed"]]
    if failed:
        print(f"error: checks failed for {', '.join(failed)} (see {out / MANIFEST})", file=err)
        return 3
    return 0


def table(reports):
    def f(v, fmt, width):
        return format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) else "-".rjust(width)

    head = (f"{'file':34} {'bytes':>9} {'max|d|':>9} {'metric':>14} {'value':>9} {'keras':>9} {'rel':>9} "
            f"{'ms':>7} {'keras ms':>8}  ok")
    rows = [head]
    for r in reports:
        m = r.get("metric") or {}
        lat = r.get("latency_ms_single") or {}
        rows.append(f"{r['file']:34} {r['size_bytes']:>9} {f(r['max_abs_diff'], '9.2e', 9)} "
                    f"{str(m.get('name', '-'))[:14]:>14} {f(m.get('exported'), '9.4f', 9)} "
                    f"{f(m.get('keras'), '9.4f', 9)} {f(m.get('relative_diff'), '+9.5f', 9)} "
                    f"{f(lat.get('exported'), '7.3f', 7)} {f(lat.get('keras_call'), '8.3f', 8)}  "
                    f"{'yes' if r['passed'] else 'NO'}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
