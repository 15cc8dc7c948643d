"""The zoo's command line: `zoo COMMAND ...` (same as `python -m zoo`); `zoo COMMAND --help` for each.

A user's mistake prints one line on stderr and exits 1 (2 for a usage error); --debug shows the traceback.
"""

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path

EXIT_USAGE, EXIT_ERROR = 2, 1
LIGHT_COMMANDS = ("list", "info")   # these read presets and cards only: no TensorFlow start-up


def _int_in(lo, hi):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo:,}, {hi:,}], got {value:,}" if hi
                                             else f"expected an integer >= {lo}, got {value}")
        return value
    return parse


def _labels_arg(text):
    """--labels: 'all' (None) or a count of labelled images."""
    return None if text.lower() == "all" else _int_in(1, 1_000_000)(text)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


_UNREACHABLE = set()   # data sets found unreachable in this process: said once, not asked for again


def _test_split(name, required):
    """The test split of a model's data set, or None with a one-line note when it is not reachable (the note once
    per data set: `zoo demo` asks for the same data for every model)."""
    from zoo import data, registry
    from zoo.errors import DataUnavailable

    dataset = registry.preset(name)["data"]
    if dataset in _UNREACHABLE and not required:
        return None
    try:
        return data.splits(dataset, validation=0)
    except DataUnavailable as e:
        if required:
            raise
        _UNREACHABLE.add(dataset)
        print(f"note: {e}; skipping what needs {dataset}", file=sys.stderr)
        return None


def _out_folder(text):
    out = Path(text)
    if out.exists() and not out.is_dir():
        from zoo.errors import ZooError

        raise ZooError(f"--out {out} is a file; expected a folder")
    return out


def _model_name(name_or_path):
    """The registered name of a model given by name, folder or .keras file (its card says which)."""
    from zoo import registry
    from zoo.errors import ZooError

    if name_or_path in registry.PRESETS:
        return name_or_path
    card = registry.model_card(name_or_path)
    if not isinstance(card, dict) or not isinstance(card.get("name"), str) or card["name"] not in registry.PRESETS:
        raise ZooError(f"the card beside {name_or_path} names no registered model; expected a card written by zoo train")
    return card["name"]


def _out_file(text):
    out = Path(text)
    if out.is_dir():
        from zoo.errors import ZooError

        raise ZooError(f"--out {out} is a folder; expected a .png file name")
    return out


def _report_broken_families():
    """A family that could not be imported is named once on stderr; the others still work."""
    from zoo import families

    for name, why in sorted(families.BROKEN.items()):
        print(f"note: family {name} is unavailable: {why}", file=sys.stderr)


def cmd_list(args):
    from zoo import registry

    _report_broken_families()
    for name in registry.list_models(args.pattern):
        p = registry.describe(name)
        shipped = (registry.saved_models_dir() / name / registry.MODEL_FILE).is_file()
        print(f"{name:24s} {p['family']:12s} {'pretrained' if shipped else 'untrained':10s} {p['description']}")


def cmd_info(args):
    from zoo import registry

    p = registry.describe(args.name)
    shipped = registry.saved_models_dir() / args.name
    # No shipped folder: not pretrained. A folder whose card is unreadable is an error to report, not hide.
    card = registry.model_card(args.name) if (shipped / registry.CARD_FILE).exists() else None
    info = {"name": args.name, "family": p["family"], "description": p["description"], "config": p["config"],
            "requires": p.get("requires", {}), "train": p.get("train", {}), "pretrained": card is not None}
    if card is not None:
        info["card"] = card
    print(json.dumps(info, indent=2, default=str))


def _overrides(items):
    import inspect

    from zoo import training
    from zoo.errors import ZooError

    # Keys train() takes itself would collide with its keywords (a TypeError); each has its own flag.
    reserved = set(inspect.signature(training.train).parameters) - {"overrides"}
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ZooError(f"--set expects KEY=VALUE, got {item!r}")
        if key == "name":
            raise ZooError("--set name=...: a trained model keeps its preset's name (its card and `zoo evaluate` "
                           "rely on it); choose the folder it is written to with --out")
        if key in reserved:
            raise ZooError(f"--set {key}=...: {key} is a training option, not a model config value; "
                           "see the command's --help for its flag")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value  # a bare word is a string
    return overrides


def cmd_train(args):
    from zoo import training

    overrides = _overrides(args.set)
    model, card, out = training.train(
        args.name, out=args.out and _out_folder(args.out), publish=args.publish, restart=args.restart,
        command=training.command_line(), verbose=args.verbose, strategy=args.strategy,
        mixed_precision=args.mixed_precision, jit_compile=args.jit_compile, deterministic=args.deterministic,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        lr_schedule=args.lr_schedule, early_stopping=args.early_stopping,
        recipe_changes={} if args.validation is None else {"validation": args.validation}, **overrides)
    if card is not None:
        print(json.dumps({"saved": str(out), "published": bool(args.publish), "metrics": card["metrics"]}, indent=2))


def cmd_finetune(args):
    from zoo import registry, training

    labels = args.labels
    name = args.preset or "mnist_classifier"
    suffix = "_vat" if args.unlabelled == "vat" else ""
    out = args.out or (None if args.encoder is None else
                       str(registry.runs_dir() / f"{Path(args.encoder).name}_classifier_{labels or 'all'}{suffix}"))
    # Without --preset, the head is the one docs/classifier.md's figures for this many labels were measured with.
    # (the preset's family says which: its finetune_config hook)
    finetune_config = registry.hook(registry.family(name), "finetune_config")
    head = {} if args.preset or finetune_config is None else finetune_config(labels, args.unlabelled)
    overrides = {"encoder": args.encoder} if args.encoder else {}
    if args.from_scratch:
        import keras

        # the random encoder's initializers draw from Keras' global generator: seeded, so --seed S repeats the run
        keras.utils.set_random_seed(training.recipe_of(name, seed=args.seed)["seed"])
        overrides["encoder"] = registry.create_model(args.encoder or registry.preset(name)["requires"]["encoder"])
    model, card, out = training.train(
        name, out=out and _out_folder(out), publish=args.publish, restart=args.restart, command=training.command_line(),
        verbose=args.verbose, strategy=args.strategy, epochs=args.epochs, seed=args.seed,
        recipe_changes={k: v for k, v in dict(labels=labels, epochs_head=args.head_epochs, shift=args.shift,
                                              unlabelled=args.unlabelled).items()
                        if v is not None}, **{**head, **_overrides(args.set), **overrides})
    if card is not None:
        print(json.dumps({"saved": str(out), "labelled_examples": card.get("labelled_examples"),
                          "metrics": card["metrics"], "seconds": card["training"]["seconds"]}, indent=2))


def cmd_evaluate(args):
    from zoo import registry
    from zoo.errors import ZooError

    if args.write_card:
        if args.limit or args.num_samples:
            raise ZooError("--write-card measures what the card holds, on the whole test split; drop --limit and "
                           "--num-samples")
        from zoo import training

        card = training.remeasure(args.name, command=training.command_line(), verbose=args.verbose)
        print(json.dumps({"model": card["name"], "card": str(registry.model_path(args.name).parent / registry.CARD_FILE),
                          "data": {k: v for k, v in card["data"].items() if k.endswith("_examples")},
                          "metrics": card["metrics"]}, indent=2))
        return
    from zoo import progress

    model = registry.load(args.name)
    name = _model_name(args.name)
    splits = _test_split(name, required=True)
    if splits is None:
        # A preset without a data set (a truth table, an environment): the model measures itself, as its card does.
        with progress.shown(args.verbose):
            metrics = model.test_metrics(None)
        print(json.dumps({"model": args.name, **metrics}, indent=2))
        return
    x, y = splits["test"]
    if args.limit:
        x, y = x[:args.limit], (y[:args.limit] if y is not None else None)  # a text split has no labels
    # Only a likelihood estimate takes importance samples (a GAN is generative but has no likelihood).
    takes_samples = "num_samples" in inspect.signature(model.test_metrics).parameters
    kwargs = {"num_samples": args.num_samples} if args.num_samples and takes_samples else {}
    if args.num_samples and not takes_samples:
        raise ZooError(f"--num-samples is for likelihood models; {args.name} ({model.family}) has none")
    # The slow figures (AIS, k=1000 IWAE) show their progress on stderr; stdout keeps only the JSON.
    with progress.shown(args.verbose):
        metrics = model.test_metrics(x, y, **kwargs)
    print(json.dumps({"model": args.name, "split": "test", "examples": int(len(x)), **metrics}, indent=2))


MAX_SAMPLES = 1_024        # zoo sample -n (or --labels): a draw, not a data set
MAX_DRAWN_SAMPLES = 100    # tiles in the PNG; the rest go to an .npz


def cmd_sample(args):
    import numpy as np

    from zoo import figures, registry
    from zoo.errors import ZooError

    name = _model_name(args.name)
    out = _out_file(args.out or f"{name}_samples.png")
    model = registry.load(args.name)
    if not model.generative:
        generative = [n for n in registry.list_models() if registry.preset(n)["class"].generative]
        raise ZooError(f"{args.name} is not generative (family {model.family}); it has no sample(). "
                       f"Generative models: {', '.join(generative)}")
    labels = None
    if args.labels:
        try:
            labels = [int(c) for c in args.labels.split(",")]
        except ValueError:
            raise ZooError(f"--labels expects comma-separated integers, got {args.labels!r}") from None
    if labels and len(labels) > MAX_SAMPLES:
        raise ZooError(f"--labels names {len(labels):,} labels, one sample each; at most {MAX_SAMPLES:,}")
    n = len(labels) if labels else args.n
    images = np.asarray(model.sample(n, labels=labels, seed=args.seed))
    # Drawing costs memory by the tile (1,024 tiles took 450 MB, 10,000 took 5 GB): the PNG shows at most a
    # 10 x 10 grid, and a larger draw is kept whole in an .npz beside it.
    drawn = min(n, MAX_DRAWN_SAMPLES)
    title = (f"{args.name}: {n} samples" if drawn == n else f"{args.name}: the first {drawn} of {n} samples") + \
        f" (seed {args.seed})" + (f", labels {args.labels}" if labels else "")
    figures.save(figures.image_grid(images[:drawn], cols=min(10, drawn), title=title), out)
    if drawn < n:
        import io as stdio

        from zoo import io

        arrays = {"images": images, **({"labels": np.asarray(labels, np.int64)} if labels else {})}
        buffer = stdio.BytesIO()
        np.savez_compressed(buffer, **arrays)
        npz = io.write_bytes_atomic(out.with_suffix(".npz"), buffer.getvalue())
        print(f"wrote {out}: the first {drawn} of {n} samples from {args.name}; all {n} in {npz}")
        return
    print(f"wrote {out}: {n} samples from {args.name}")


def cmd_pictures(args):
    from zoo import figures, registry

    name = _model_name(args.name)
    out = _out_folder(args.out or Path("pictures") / name)
    model = registry.load(args.name)
    hook = registry.hook(registry.family(name), "pictures")
    figs = hook(model, _test_split(name, required=False)) if hook else {}
    for fname, fig in figs.items():
        print(f"wrote {figures.save(fig, out / fname)}")


def cmd_demo(args):
    """Load every shipped model, write its pictures and say what was written."""
    from zoo import figures, registry

    out = _out_folder(args.out)
    shipped = [n for n in registry.list_models() if (registry.saved_models_dir() / n / registry.MODEL_FILE).is_file()]
    if not shipped:
        from zoo.errors import ZooError

        raise ZooError("no pretrained models in saved_models/; train one with: zoo train NAME --publish")
    for name in shipped:
        start = time.time()
        model = registry.load(name)
        data = _test_split(name, required=False)
        hook = registry.hook(registry.family(name), "pictures")
        written = [str(figures.save(fig, out / name / fname)) for fname, fig in (hook(model, data) if hook else {}).items()]
        # The card's headline, not a new measurement: some figures (AIS, k=1000 IWAE) take minutes.
        metrics = registry.model_card(name).get("metrics", {})
        preferred = ("nll_iwae", "nats_per_char", "log_likelihood", "relatedness_mrr", "accuracy", "squared_error_per_image")
        numeric = [k for k, v in metrics.items() if k != "split" and isinstance(v, (int, float))]
        key = next((k for k in preferred if k in numeric), numeric[0] if numeric else None)
        summary = f", card {key} = {metrics[key]:.4g}" if key else ""
        print(f"{name}: loaded ({model.count_params_unique():,} parameters){summary}; wrote "
              f"{len(written)} figure{'s' if len(written) != 1 else ''} in {time.time() - start:.1f}s")
    print(f"figures of {len(shipped)} pretrained models are in {out}/; full test figures: zoo evaluate NAME")


def cmd_family(args):
    """A family's own command: the model's family parses the rest of the line with its own arguments. Its help is
    in the family's presets file (families.COMMAND_HELP); the family module's COMMANDS[command] is
    {"arguments": fn(argparse parser), "run": fn(model, args, data)}, data the model's splits or None."""
    from zoo import families, registry
    from zoo.errors import ZooError

    name = _model_name(args.name)
    family = registry.describe(name)["family"]
    helps = families.COMMAND_HELP[args.command]
    if family not in helps:
        raise ZooError(f"{args.name} (family {family}) has no '{args.command}' command; it is offered by the "
                       f"{', '.join(sorted(helps))} famil{'y' if len(helps) == 1 else 'ies'}")
    spec = registry.hook(registry.family(name), "COMMANDS")[args.command]
    parser = argparse.ArgumentParser(prog=f"zoo {args.command} {args.name}", description=helps[family])
    spec["arguments"](parser)
    rest = parser.parse_args(args.rest)
    model = registry.load(args.name)
    spec["run"](model, rest, _test_split(name, required=False))


def build_parser():
    from zoo import families

    parser = argparse.ArgumentParser(prog="zoo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show a traceback on error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. '*vae*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's preset and card", description="Show a model's preset and card.")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    def training_flags(p):
        p.add_argument("--seed", type=_int_in(0, 2 ** 31 - 1))
        p.add_argument("--out", help="output folder (default runs/NAME)")
        p.add_argument("--publish", action="store_true", help="also replace saved_models/NAME (says what it replaced)")
        p.add_argument("--restart", action="store_true", help="discard a backup left by an earlier, different run")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (JSON values)")
        p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras progress: 1 bar, 2 a line per epoch")
        p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"],
                       help="tf.distribute strategy; multiworker reads TF_CONFIG (see docs/training.md)")

    p = sub.add_parser("train", help="train a model with its seeded recipe",
                       description="Train a registered model with its preset recipe; writes model.keras, card.json and "
                                   "preview.png to runs/NAME (or --out) atomically. A killed run resumes with the same "
                                   "command.")
    p.add_argument("name")
    p.add_argument("--epochs", type=_int_in(1, 100_000), help="default: the preset's")
    p.add_argument("--batch-size", type=_int_in(1, 1_000_000), help="default: the preset's")
    p.add_argument("--learning-rate", type=_positive_float, help="default: the preset's")
    training_flags(p)
    p.add_argument("--mixed-precision", action="store_true", help="float16 compute, float32 losses (GPU)")
    p.add_argument("--jit-compile", action="store_true", help="compile train steps with XLA")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], help="default: the preset's (constant)")
    p.add_argument("--early-stopping", type=_int_in(1, 100_000), metavar="PATIENCE",
                   help="stop when the validation loss has not improved for PATIENCE epochs; keep the best weights")
    p.add_argument("--validation", type=_int_in(0, 1_000_000), metavar="N",
                   help="training images held out for validation (default: the preset's, mostly 2000; 0: none)")
    p.add_argument("--deterministic", action="store_true", help="deterministic TensorFlow ops")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("finetune", help="fine-tune a pretrained encoder as a digit classifier",
                       description="Train a classifier on N class-balanced labelled training images: the head first "
                                   "with the encoder frozen, then everything at a lower rate.")
    p.add_argument("encoder", nargs="?", help="a registered autoencoder with pretrained weights, or a folder")
    p.add_argument("--preset", help="the classifier preset and its head (default mnist_classifier; with fewer than "
                                    "10,000 --labels and no --preset, a linear head, or with --unlabelled vat "
                                    "mnist_classifier_100labels' head: the recipes docs/classifier.md measured)")
    p.add_argument("--labels", default=None, type=_labels_arg, help="number of labelled training images, or 'all'")
    p.add_argument("--epochs", type=_int_in(1, 100_000), help="end-to-end epochs")
    p.add_argument("--head-epochs", type=_int_in(0, 100_000), help="head-only epochs")
    p.add_argument("--shift", type=_int_in(0, 13), help="random shifts of up to this many pixels")
    p.add_argument("--from-scratch", action="store_true", help="random initial encoder weights (the baseline)")
    p.add_argument("--unlabelled", choices=("none", "vat"),
                   help="vat: also learn from the training images left unlabelled, by virtual adversarial training")
    training_flags(p)
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="print test metrics as JSON",
                       description="Evaluate a pretrained model on the test split and print JSON metrics.")
    p.add_argument("name", help="a registered name, a folder or a .keras file")
    p.add_argument("--num-samples", type=_int_in(1, 100_000), help="importance samples for likelihood models")
    p.add_argument("--limit", type=_int_in(1, 10_000_000), help="use only the first N test images")
    p.add_argument("--write-card", action="store_true",
                   help="measure the card's figures again on today's data and write them into its card.json "
                        "(no training); the figures it held before are kept as earlier_metrics")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="progress of slow figures on stderr: 1 a bar (a few lines when not a terminal), 2 a line "
                        "per stage, 0 none")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="write samples of a generative model as a figure",
                       description="Draw samples from a generative model and write them as a PNG grid.")
    p.add_argument("name")
    p.add_argument("--out", help="PNG file to write (default NAME_samples.png here)")
    # The PNG draws at most MAX_DRAWN_SAMPLES (a 10 x 10 grid, ~50 MB of matplotlib memory); 1,024 tiles took 450 MB.
    p.add_argument("-n", type=_int_in(1, MAX_SAMPLES), default=100,
                   help=f"number of samples (at most {MAX_SAMPLES:,}); the PNG shows the first {MAX_DRAWN_SAMPLES} "
                        "and more are written whole to an .npz beside it")
    p.add_argument("--seed", type=_int_in(0, 2 ** 31 - 1), default=0)
    p.add_argument("--labels", help="comma-separated labels, for class-conditional models")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("pictures", help="write every figure a model offers",
                       description="Write every figure a model offers (reconstructions, samples, latent maps, ...).")
    p.add_argument("name")
    p.add_argument("--out", help="folder to write into (default pictures/NAME here)")
    p.set_defaults(func=cmd_pictures)

    # each family's commands and their help, read from its presets file without importing the family
    for command, by_family in sorted(families.COMMAND_HELP.items()):
        if command in sub.choices:
            continue  # a family cannot shadow a core command
        helps = "; ".join(f"{fam}: {text}" for fam, text in sorted(by_family.items()))
        p = sub.add_parser(command, help=helps, description=f"{helps}. The model's family reads the arguments after "
                                                            "NAME; `zoo " + command + " NAME --help` lists them.")
        p.add_argument("name", help="a registered model name or a folder")
        p.add_argument("rest", nargs=argparse.REMAINDER, help="the family's own arguments")
        p.set_defaults(func=cmd_family)

    p = sub.add_parser("demo", help="load every pretrained model and write its figures",
                       description="Load every shipped model, write its figures under --out and print a summary.")
    p.add_argument("--out", default="demo_out")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get("ZOO_DEBUG"))
    if args.command not in LIGHT_COMMANDS:
        from zoo.startup import import_tensorflow_quietly

        import_tensorflow_quietly()
    try:
        from zoo.errors import ZooError

        try:
            args.func(args)
        except BrokenPipeError:
            raise  # the reader left: handled below, not a user's error
        except (ZooError, ValueError, OSError) as e:
            if debug:
                raise
            print(f"zoo {args.command}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print(f"zoo {args.command}: interrupted", file=sys.stderr)
            return 130
        sys.stdout.flush()
    except BrokenPipeError:
        # A reader that stops early (zoo list | head -1) is not an error: end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0
