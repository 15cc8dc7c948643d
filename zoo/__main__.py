"""The zoo's command line: python -m zoo COMMAND ...  (python -m zoo COMMAND --help for each)."""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXIT_USAGE, EXIT_ERROR = 2, 1


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _test_split(required):
    """(x_test, y_test) as float rows, or None with a one-line note when no data set is reachable."""
    from zoo import data
    from zoo.errors import DataUnavailable

    try:
        splits = data.mnist_splits(validation=0)
    except DataUnavailable as e:
        if required:
            raise
        print(f"note: {e}; skipping what needs images", file=sys.stderr)
        return None
    return splits["test"]


def cmd_list(args):
    import zoo
    from zoo import registry

    for name in zoo.list_models(args.pattern):
        p = registry.preset(name)
        shipped = (registry.saved_models_dir() / name / registry.MODEL_FILE).is_file()
        print(f"{name:24s} {p['family']:14s} {'pretrained' if shipped else 'untrained':10s} {p['description']}")


def cmd_info(args):
    import zoo
    from zoo import registry

    p = registry.preset(args.name)
    try:
        card = zoo.model_card(args.name)
    except zoo.ZooError:
        card = None
    info = {"name": args.name, "family": p["family"], "description": p["description"],
            "config": p["config"], "train": p.get("train", {}), "pretrained": card is not None}
    if card is not None:
        info["card"] = card
    print(json.dumps(info, indent=2, default=str))


def cmd_train(args):
    from zoo.train import command_line, train_preset

    from zoo.errors import ZooError

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ZooError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(value) if value[:1] in "[{0123456789-tfn\"" else value
        except json.JSONDecodeError as e:
            raise ZooError(f"--set {key}: {value!r} is not a JSON value ({e.msg})") from None
    for key in ("kl_warmup_epochs", "free_bits"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    model, card = train_preset(args.name, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                               out=args.out, learning_rate=args.learning_rate, verbose=args.verbose,
                               command=command_line(), strategy=args.strategy,
                               mixed_precision=args.mixed_precision, jit_compile=args.jit_compile,
                               deterministic=args.deterministic, lr_schedule=args.lr_schedule,
                               early_stopping=args.early_stopping, **overrides)
    if card is None:
        return  # a non-chief worker of a multi-worker run: the chief writes the folder
    out = Path(args.out) if args.out else None
    print(json.dumps({"saved": str(out or f"saved_models/{args.name}"), "metrics": card["metrics"]}, indent=2))


def cmd_evaluate(args):
    import zoo

    model = zoo.load(args.name)
    x, y = _test_split(required=True)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    kwargs = {"num_samples": args.num_samples} if args.num_samples else {}
    metrics = model.test_metrics(x, y, **kwargs)
    print(json.dumps({"model": args.name, "split": "test", "examples": int(len(x)), **metrics}, indent=2))


def cmd_reconstruct(args):
    import zoo
    from zoo.images import write_png

    model = zoo.load(args.name)
    x, y = _test_split(required=True)
    if getattr(model, "needs_labels", False):
        rec = model.reconstruct(x[:args.n], y[:args.n])
    else:
        rec = model.reconstruct(x[:args.n])
    from zoo.images import tile
    import numpy as np

    write_png(args.out, tile(np.concatenate([x[:args.n], rec.reshape(len(rec), -1)]), cols=args.n))
    print(f"wrote {args.out}: top row test images, bottom row {args.name} reconstructions")


def cmd_sample(args):
    import zoo
    from zoo.errors import ZooError
    from zoo.images import tile, write_png

    model = zoo.load(args.name)
    if not getattr(model, "generative", False):
        raise ZooError(f"{args.name} is not generative (family {model.family}); it has no sample(). "
                       f"Generative models: {', '.join(_generative_names()) or 'none yet'}")
    if getattr(model, "needs_labels", False):
        labels = [int(c) for c in args.labels.split(",")] if args.labels else [i % 10 for i in range(args.n)]
        images = model.sample(len(labels), labels=labels, seed=args.seed)
    else:
        images = model.sample(args.n, seed=args.seed)
    write_png(args.out, tile(images, cols=min(10, len(images))))
    print(f"wrote {args.out}: {len(images)} samples from {args.name} (seed {args.seed})")


def _generative_names():
    from zoo import registry

    return [n for n in registry.list_models() if getattr(registry.preset(n)["class"], "generative", False)]


def cmd_features(args):
    import numpy as np
    import zoo
    from zoo.errors import ZooError
    from zoo.images import tile, write_png

    model = zoo.load(args.name)
    kernel = next((w for w in model.encoder.weights if len(w.shape) == 2 and w.shape[0] == 784), None)
    if kernel is None:
        raise ZooError(f"{args.name}'s encoder has no first dense layer over 784 pixels")
    w = np.asarray(kernel)[:, :args.n].T
    lo, hi = w.min(axis=1, keepdims=True), w.max(axis=1, keepdims=True)
    write_png(args.out, tile((w - lo) / np.maximum(hi - lo, 1e-12), cols=int(np.ceil(np.sqrt(len(w))))))
    print(f"wrote {args.out}: first-layer weights of {len(w)} hidden units of {args.name} as 28x28 tiles")


def cmd_pictures(args):
    import zoo
    from zoo.images import write_png

    model = zoo.load(args.name)
    split = _test_split(required=False)
    x, y = split if split is not None else (None, None)
    out = Path(args.out)
    for fname, img in model.pictures(x, y).items():
        print(f"wrote {write_png(out / fname, img)}")


def cmd_demo(args):
    """Load every shipped model, write its pictures, and say what was written."""
    import time

    import zoo
    from zoo import registry
    from zoo.images import write_png

    out = Path(args.out)
    split = _test_split(required=False)
    x, y = split if split is not None else (None, None)
    shipped = [n for n in zoo.list_models() if (registry.saved_models_dir() / n / registry.MODEL_FILE).is_file()]
    if not shipped:
        raise zoo.ZooError("no pretrained models in saved_models/; train one with python -m zoo train NAME")
    for name in shipped:
        start = time.time()
        model = zoo.load(name)
        pictures = model.pictures(None if x is None else x[:100], None if y is None else y[:100])
        written = [str(write_png(out / name / fname, img)) for fname, img in pictures.items()]
        summary = ""
        if x is not None:
            # A quick look, not the card's figure: 500 images, and k=50 importance samples for likelihoods.
            m = model.test_metrics(x[:500], y[:500], **({"num_samples": 50} if model.generative else {}))
            key = next((k for k in ("nll_iwae", "squared_error_per_image", "accuracy") if k in m), None)
            note = " (k=50)" if key == "nll_iwae" else ""
            summary = f", {key}{note} on 500 test images = {m[key]:.3f}" if key else ""
        print(f"{name}: loaded ({model.count_params_unique():,} parameters){summary}; "
              f"wrote {', '.join(written) or 'nothing (no images reachable)'} in {time.time() - start:.1f}s")
    print(f"pictures of {len(shipped)} pretrained models are in {out}/; full test figures: python -m zoo evaluate NAME")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. '*vae*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's preset and card", description="Show a model's preset and card.")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", help="train a model with its seeded recipe",
                       description="Train a registered model with its preset recipe; writes model.keras, card.json "
                                   "and preview.png to --out (default saved_models/NAME), atomically. Training state "
                                   "is backed up each epoch, so a killed run resumes with the same command.")
    p.add_argument("name")
    p.add_argument("--epochs", type=_positive_int, help="default: the preset's")
    p.add_argument("--batch-size", type=_positive_int, help="default: the preset's")
    p.add_argument("--learning-rate", type=float, help="default: the preset's")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--out", help="output folder (default saved_models/NAME)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (JSON values)")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras progress: 1 bar, 2 line per epoch")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"],
                   help="tf.distribute strategy; multiworker reads TF_CONFIG (see README)")
    p.add_argument("--mixed-precision", action="store_true", help="float16 compute, float32 losses (GPU)")
    p.add_argument("--jit-compile", action="store_true", help="compile train steps with XLA")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], help="default: the preset's (constant)")
    p.add_argument("--early-stopping", type=_positive_int, metavar="PATIENCE",
                   help="stop when the validation loss (VAE: validation negative ELBO) has not improved for "
                        "PATIENCE epochs, and keep the best weights")
    p.add_argument("--kl-warmup-epochs", type=_nonneg_int, help="VAEs: ramp the KL weight from 0 to 1 over N epochs")
    p.add_argument("--free-bits", type=float, help="VAEs: per-dimension KL floor in nats")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic TensorFlow ops: a resumed run matches an uninterrupted one bit for bit")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print test metrics as JSON",
                       description="Evaluate a pretrained model on the test split and print JSON metrics.")
    p.add_argument("name")
    p.add_argument("--num-samples", type=_positive_int, help="importance samples for likelihood models")
    p.add_argument("--limit", type=_positive_int, help="use only the first N test images")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("reconstruct", help="write test images and reconstructions as PNG",
                       description="Write a PNG: test images on top, reconstructions below.")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("-n", type=_positive_int, default=10, help="number of images")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("sample", help="write samples of a generative model as PNG",
                       description="Draw samples from a generative model and write them as a PNG grid.")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("-n", type=_positive_int, default=100, help="number of samples")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--labels", help="comma-separated digit labels, for class-conditional models")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("features", help="draw first-layer weights as 28x28 tiles",
                       description="Draw the first-layer weights of a model: what each hidden unit looks for.")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("-n", type=_positive_int, default=100, help="number of hidden units")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("pictures", help="write all of a model's pictures",
                       description="Write every picture a model offers (reconstructions, samples, latent maps).")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="folder to write into")
    p.set_defaults(func=cmd_pictures)

    from zoo import finetune  # its command lives beside the fine-tuning code it drives

    finetune.add_cli(sub)

    p = sub.add_parser("demo", help="load every pretrained model and write its pictures",
                       description="Load every shipped model, write its pictures under --out and print a summary.")
    p.add_argument("--out", default="demo_out")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from zoo.errors import ZooError

    try:
        args.func(args)
    except (ZooError, ValueError) as e:
        # A bad value anywhere (a layer's argument from --set, say) is the user's to fix: one line.
        # ZOO_DEBUG=1 shows the traceback instead.
        if os.environ.get("ZOO_DEBUG"):
            raise
        print(f"zoo {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        print(f"zoo {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"zoo {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
