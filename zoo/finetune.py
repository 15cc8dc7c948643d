"""Fine-tuning pretrained encoders as classifiers (issue 6).

    clf = zoo.classifier("ae_mnist", head="linear", freeze="all")     # pretrained encoder + softmax head
    base = zoo.classifier("ae_mnist", pretrained=False)               # same network, random weights
    idx = sample_labelled(y_train, 100, seed=0)                        # 10 labelled images per class
    fine_tune(clf, x_train[idx], y_train[idx], epochs_head=20, epochs_all=50, lr_head=1e-3, lr_all=1e-4)

The classifier's encoder is a clean copy of the autoencoder's inference path: corruption, dropout and
penalty layers (identities at inference) are left out, and for a VAE only the z_mean path is kept, so the
classifier sees exactly the code the autoencoder gives at test time.
"""

import json
import time
from pathlib import Path

import numpy as np

from zoo.errors import ZooError

# Layers that change the code at inference and are copied; anything else on the path must be an identity
# at inference (checked numerically in clean_encoder).
_KEPT_LAYERS = ("Dense", "Activation", "BatchNormalization", "LayerNormalization", "ReLU", "LeakyReLU",
                "Softmax", "ELU", "PReLU", "Flatten", "Reshape", "Rescaling", "Normalization")


def _ancestors(tensor):
    """Layers a symbolic tensor depends on, found by walking Keras's history back to the inputs."""
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        history = getattr(t, "_keras_history", None)
        if history is None:
            continue
        op, node_index, _ = history
        if id(op) in seen:
            continue
        seen.add(id(op))
        node = op._inbound_nodes[node_index]
        stack.extend(node.input_tensors)
    return seen


def clean_encoder(encoder, check_rows=None):
    """A new functional model (rows -> first output) with copies of the layers that act at inference.

    The first output is the code (z_mean for a VAE). The copy is checked against the original on a few
    rows, so an encoder that is not a chain of such layers fails here rather than giving a wrong classifier.
    """
    import keras

    if not isinstance(encoder, keras.Model) or not hasattr(encoder, "inputs") or not encoder.inputs:
        raise ZooError(f"expected a functional Keras encoder, got {type(encoder).__name__}")
    if len(encoder.inputs) != 1:
        raise ZooError(f"the encoder takes {len(encoder.inputs)} inputs (a conditional model needs labels to "
                       "encode); only single-input encoders can be fine-tuned as classifiers")
    wanted = _ancestors(encoder.outputs[0])
    x = keras.Input(tuple(encoder.inputs[0].shape[1:]), name="image")
    h, copied = x, 0
    for layer in encoder.layers:
        if id(layer) not in wanted or isinstance(layer, keras.layers.InputLayer):
            continue
        if type(layer).__name__ not in _KEPT_LAYERS:
            continue  # corruption, dropout, activity penalties: identities at inference
        clone = type(layer).from_config(layer.get_config())
        h = clone(h)
        clone.set_weights(layer.get_weights())
        copied += 1
    if not copied:
        raise ZooError("the encoder has no layers to fine-tune")
    clean = keras.Model(x, h, name="encoder")
    rows = check_rows if check_rows is not None else \
        np.random.default_rng(0).random((8,) + tuple(encoder.inputs[0].shape[1:]), dtype=np.float32)
    want = encoder(rows, training=False)
    want = np.asarray(want[0] if isinstance(want, (list, tuple)) else want)
    got = np.asarray(clean(rows, training=False))
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-5, rtol=1e-5):
        raise ZooError("could not copy the encoder's inference path as a chain of standard layers "
                       f"(max difference {np.max(np.abs(got - want)) if got.shape == want.shape else got.shape})")
    return clean


def _encoder_of(model):
    import keras

    enc = getattr(model, "encoder", None)
    if isinstance(enc, keras.Model):
        return enc
    if isinstance(model, keras.Model):
        return model  # already an encoder
    raise ZooError(f"expected a model name, an autoencoder or an encoder model, got {type(model).__name__}")


def classifier(encoder_or_model_name, num_classes=10, head="linear", freeze="all", pretrained=True,
               head_units=256, dropout=0.0, seed=0, learning_rate=1e-3, name=None):
    """A compiled EncoderClassifier: the encoder of a registered model (pretrained from saved_models/, or
    from its preset config with random weights when pretrained=False), an autoencoder or encoder model, plus
    a "linear" or "mlp" head. freeze: "all", "none" or the number of leading encoder layers to freeze."""
    import keras

    from zoo import registry
    from zoo.models.classifier import EncoderClassifier, check_freeze

    if freeze not in ("all", "none"):
        check_freeze(freeze, 10 ** 9)  # type check now; the range once the encoder is known
    keras.utils.set_random_seed(int(seed))
    if isinstance(encoder_or_model_name, (str, Path)):
        source = str(encoder_or_model_name)
        if pretrained:
            model = registry.load(source)
        else:
            if source not in registry.PRESETS:
                raise registry._unknown(source)
            model = registry.build(source)
        label = Path(source).name
    else:
        model = encoder_or_model_name
        if not pretrained:
            raise ZooError("pretrained=False needs a registered model name to rebuild from")
        label = getattr(model, "name", "encoder")
    if getattr(model, "family", None) == "classifier":
        raise ZooError(f"{label} is already a classifier; pass an autoencoder or its encoder")
    enc = clean_encoder(_encoder_of(model))
    clf = EncoderClassifier(enc, num_classes=num_classes, head=head, head_units=head_units, dropout=dropout,
                            freeze=freeze, seed=seed, name=name or f"{label}_classifier")
    clf.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return clf


def sample_labelled(y, n, seed=0, num_classes=None):
    """Indices of n labelled examples, class-balanced: n // C of each class, and the remainder one each to
    the classes a seeded permutation puts first. Sorted; the same for the same (y, n, seed)."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ZooError(f"labels must be a 1-D integer array, got shape {y.shape} dtype {y.dtype}")
    classes = np.arange(num_classes) if num_classes else np.unique(y)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ZooError(f"the number of labels must be a positive integer, got {n!r}")
    if n > len(y):
        raise ZooError(f"asked for {n} labelled examples but only {len(y)} are available")
    rng = np.random.default_rng(seed)
    per, extra = divmod(int(n), len(classes))
    bonus = set(rng.permutation(len(classes))[:extra].tolist())
    chosen = []
    for i, c in enumerate(classes):
        pool = np.flatnonzero(y == c)
        k = per + (i in bonus)
        if k > len(pool):
            raise ZooError(f"asked for {k} examples of class {c} but only {len(pool)} are available "
                           f"(n={n} over {len(classes)} classes)")
        chosen.append(rng.permutation(pool)[:k])
    return np.sort(np.concatenate(chosen))


def _dataset(x, y, batch_size, seed, shift, epoch):
    """Seeded shuffled batches; with shift, each image is moved by up to `shift` pixels (the one
    augmentation that is safe for digits), drawn afresh every epoch from (seed, epoch, batch)."""
    import tensorflow as tf

    from zoo import data as zdata

    ds = zdata.pipeline(x, y, batch_size, shuffle=True, seed=seed, epoch=epoch)
    if shift:
        side = int(np.sqrt(x.shape[1]))

        def translate(i, xb, yb):
            n = tf.shape(xb)[0]
            s = tf.stack([tf.constant(seed, tf.int64) * 7919 + tf.cast(epoch, tf.int64), i])
            d = tf.random.stateless_uniform((n, 2), seed=s, minval=-shift, maxval=shift + 1, dtype=tf.int32)
            img = tf.reshape(xb, (-1, side, side, 1))
            pad = tf.pad(img, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
            # a crop of the padded image at offset (shift + d) is the image moved by -d, zeros filling in
            boxes = tf.cast(tf.stack([shift + d[:, 0], shift + d[:, 1]], 1), tf.float32)
            size = float(side + 2 * shift - 1)
            boxes = tf.concat([boxes / size, (boxes + side - 1) / size], 1)
            out = tf.image.crop_and_resize(pad, boxes, tf.range(n), (side, side), method="nearest")
            return tf.reshape(out, (-1, side * side)), yb

        ds = ds.enumerate().map(lambda i, b: translate(i, *b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds


def fine_tune(model, x, y, epochs_head=5, epochs_all=10, lr_head=1e-2, lr_all=1e-3, batch_size=128, seed=0,
              validation=None, shift=0, verbose=0, head_freeze="all", cosine=True, strategy=None):
    """Train the head with the encoder frozen, then unfreeze everything and train at a lower rate.

    The two phases compile separately: Keras fixes the trainable weights when it compiles. The input
    order (and any shift augmentation) is a function of (seed, epoch), so a run is repeatable.
    The end-to-end rate follows a cosine decay to zero unless cosine=False.
    validation: (x_val, y_val) or None. Returns {"head": history dict, "all": history dict}.
    strategy: None/"default" or "mirrored" (or a tf.distribute.Strategy); build the classifier inside its
    scope. Multi-worker fine-tuning is refused: Keras 3.15's built-in train step does not run under
    MultiWorkerMirroredStrategy (keras-team/keras#20585), and the zoo's workaround covers its own models.
    """
    from zoo.train import make_strategy

    if strategy == "multiworker" or type(strategy).__name__ == "MultiWorkerMirroredStrategy":
        raise ZooError("fine-tuning supports the default and mirrored strategies, not multiworker")
    strategy = make_strategy(strategy)
    import keras
    import tensorflow as tf

    from zoo.data import as_images

    if not hasattr(model, "set_freeze"):
        raise ZooError(f"fine_tune expects a classifier from zoo.classifier(...), got {type(model).__name__}")
    x, _ = as_images(x, "x")
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ZooError(f"y: expected {len(x)} integer labels, got shape {y.shape} dtype {y.dtype}")
    for k, v in dict(epochs_head=epochs_head, epochs_all=epochs_all).items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ZooError(f"{k} must be a non-negative integer, got {v!r}")
    if epochs_head + epochs_all == 0:
        raise ZooError("nothing to train: epochs_head and epochs_all are both 0")
    if not (isinstance(shift, (int, np.integer)) and 0 <= shift < 14):
        raise ZooError(f"shift must be an integer number of pixels in [0, 14), got {shift!r}")
    keras.utils.set_random_seed(int(seed))
    batch_size = int(min(batch_size, len(x)))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
    train_ds = _dataset(x, y.astype(np.int64), batch_size, seed, shift, epoch)
    val_ds = None
    if validation is not None:
        from zoo import data as zdata

        xv, _ = as_images(validation[0], "x_val")
        val_ds = zdata.pipeline(xv, np.asarray(validation[1]).astype(np.int64), 1024, shuffle=False)

    class Epochs(keras.callbacks.Callback):
        def __init__(self, offset):
            super().__init__()
            self.offset = offset

        def on_epoch_begin(self, e, logs=None):
            epoch.assign(self.offset + e)

    histories = {}
    for phase, epochs, lr, freeze, offset in (("head", epochs_head, lr_head, head_freeze, 0),
                                              ("all", epochs_all, lr_all, "none", epochs_head)):
        if not epochs:
            continue
        model.set_freeze(freeze)
        if phase == "all" and cosine:
            # annealing to zero lets the last epochs settle instead of rattling at the full rate
            lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=int(epochs) * -(-len(x) // batch_size))
        with strategy.scope():
            model.compile(optimizer=keras.optimizers.Adam(lr))
        h = model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), verbose=verbose,
                      callbacks=[Epochs(offset)])
        histories[phase] = {k: [round(float(v), 5) for v in vs] for k, vs in h.history.items()}
    return histories


# -- the finetune command ---------------------------------------------------------------------------------

def parse_labels(text):
    if str(text).lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        raise ZooError(f"--labels expects a positive integer or 'all', got {text!r}") from None
    if n <= 0:
        raise ZooError(f"--labels expects a positive integer or 'all', got {n}")
    return n


def recipe_for(n_labels):
    """Epochs and batch size that suit the labelled-set size: small sets need many short epochs."""
    if n_labels is None or n_labels >= 10000:
        return dict(epochs_head=1, epochs_all=10, batch_size=128)
    if n_labels >= 1000:
        return dict(epochs_head=10, epochs_all=30, batch_size=64)
    return dict(epochs_head=30, epochs_all=60, batch_size=32)


def run_finetune(encoder, labels=None, epochs=None, epochs_head=None, seed=0, out=None, head="linear",
                 lr_head=1e-2, lr_all=1e-3, shift=0, batch_size=None, pretrained=True, dropout=0.0,
                 verbose=0, command=None, name=None, description=None, save=True, splits=None, extras=None,
                 strategy="default"):
    """Fine-tune `encoder` on `labels` class-balanced training images (None: all), evaluate on the test
    split and (with save) write a classifier folder atomically. Returns (model, card)."""
    from zoo import data as zdata
    from zoo import registry
    from zoo.train import DATA_NOTE, versions

    splits = splits or zdata.mnist_splits(validation=2000, seed=0)
    x_train, y_train = splits["train"]
    idx = np.arange(len(y_train)) if labels is None else sample_labelled(y_train, labels, seed)
    recipe = recipe_for(labels)
    if epochs is not None:
        recipe["epochs_all"] = epochs
    if epochs_head is not None:
        recipe["epochs_head"] = epochs_head
    if batch_size is not None:
        recipe["batch_size"] = batch_size
    from zoo.train import make_strategy

    if strategy == "multiworker":
        raise ZooError("fine-tuning supports the default and mirrored strategies, not multiworker")
    strategy = make_strategy(strategy)
    with strategy.scope():
        clf = classifier(encoder, head=head, seed=seed, pretrained=pretrained, dropout=dropout,
                         name=name or f"{Path(str(encoder)).name}_classifier_{labels or 'all'}")
    start = time.time()
    hist = fine_tune(clf, x_train[idx], y_train[idx], lr_head=lr_head, lr_all=lr_all, seed=seed, shift=shift,
                     validation=splits["val"] if len(splits["val"][0]) else None, verbose=verbose,
                     strategy=strategy, **recipe)
    seconds = time.time() - start
    metrics = {k: round(v, 4) for k, v in clf.test_metrics(*splits["test"]).items()}
    val = {k: round(v, 4) for k, v in clf.test_metrics(*splits["val"]).items()} if len(splits["val"][0]) else {}
    config = clf.get_config()
    config.pop("trainable", None)
    config["encoder"] = {"source": str(encoder), "pretrained": bool(pretrained),
                         "layers": [layer.name for layer in clf.encoder_weight_layers()]}
    card = {
        "name": clf.name,
        "family": "classifier",
        "description": description or (f"{'Pretrained' if pretrained else 'Randomly initialised'} {encoder} "
                                       f"encoder + {head} head, fine-tuned on "
                                       f"{len(idx)} class-balanced labelled training images."),
        "class": type(clf).__name__,
        "config": config,
        "parameters": clf.count_params_unique(),
        "data": {"dataset": "mnist", "note": DATA_NOTE, "train_examples": int(len(x_train)),
                 "labelled_examples": int(len(idx)), "validation_examples": int(len(splits["val"][0])),
                 "test_examples": int(len(splits["test"][0]))},
        "training": {"command": command or f"python -m zoo finetune {encoder} --labels {labels or 'all'} "
                                           f"--seed {seed}",
                     "seed": seed, "encoder": str(encoder), "pretrained": bool(pretrained), **recipe,
                     "lr_head": lr_head, "lr_all": lr_all, "shift_augmentation_pixels": shift,
                     "optimizer": "Adam", "seconds": round(seconds, 1),
                     "final": {phase: {k: v[-1] for k, v in h.items()} for phase, h in hist.items()}},
        "metrics": {"split": "test", **metrics},
        "validation_metrics": val,
        "versions": versions(),
    }
    card.update(extras or {})
    if save:
        out = Path(out) if out else registry.saved_models_dir() / f"{Path(str(encoder)).name}_classifier_{labels or 'all'}"
        registry.save_model_dir(clf, out, card)
    return clf, card


def train_mnist_classifier(out=None, verbose=0, command=None, **changes):
    """The shipped mnist_classifier, from its preset recipe (changes: preset keys to try other recipes)."""
    from zoo.models.classifier import PRESETS

    p = dict(PRESETS["mnist_classifier"])
    p["config"], t = dict(p["config"]), dict(p["train"])
    for k, v in changes.items():
        (t if k in t else p["config"] if k in p["config"] else p)[k] = v
    return run_finetune(p["encoder"], labels=None, epochs=t["epochs_all"], epochs_head=t["epochs_head"],
                        lr_head=t["lr_head"], lr_all=t["lr_all"], shift=t["shift"], batch_size=t["batch_size"],
                        head=p["config"]["head"], dropout=p["config"]["dropout"], seed=0,
                        out=out or _default_models_dir() / "mnist_classifier", verbose=verbose,
                        command=command or "python -m zoo finetune --preset mnist_classifier",
                        name="mnist_classifier", description=p["description"], extras={"notes": (
                            "Vincent et al. (2010) report about 1.3% test error for fine-tuned stacked "
                            "autoencoders trained on the full 60,000 MNIST training images; this model saw "
                            "15,000 and is tested on the 2,690-image test split described under data.")})


def _default_models_dir():
    from zoo import registry

    return registry.saved_models_dir()


def cmd_finetune(args):
    from zoo.train import command_line

    if args.preset:
        if args.preset != "mnist_classifier":
            raise ZooError(f"unknown classifier preset {args.preset!r}; expected mnist_classifier")
        model, card = train_mnist_classifier(out=args.out, verbose=args.verbose, command=command_line())
        out = args.out or _default_models_dir() / args.preset
    else:
        if not args.encoder:
            raise ZooError("name an encoder (e.g. ae_mnist) or pass --preset mnist_classifier")
        labels = parse_labels(args.labels)
        out = args.out or _default_models_dir() / f"{Path(args.encoder).name}_classifier_{labels or 'all'}"
        model, card = run_finetune(args.encoder, labels=labels, epochs=args.epochs, epochs_head=args.head_epochs,
                                   seed=args.seed, out=out, head=args.head, shift=args.shift,
                                   pretrained=not args.from_scratch, verbose=args.verbose, command=command_line(),
                                   strategy=args.strategy)
    print(json.dumps({"saved": str(out), "labelled_examples": card["data"]["labelled_examples"],
                      "metrics": card["metrics"], "seconds": card["training"]["seconds"]}, indent=2))


def add_cli(sub):
    """Register the `finetune` command on the CLI's subparsers."""
    from zoo.__main__ import _nonneg_int, _positive_int

    p = sub.add_parser("finetune", help="fine-tune a pretrained encoder as a digit classifier",
                       description="Train a classifier on N class-balanced labelled training images: the head "
                                   "first with the encoder frozen, then everything at a lower rate. Saves the "
                                   "folder atomically to --out, evaluates on the test split, prints JSON.")
    p.add_argument("encoder", nargs="?", help="a registered autoencoder with pretrained weights, or a folder")
    p.add_argument("--labels", default="all", help="number of labelled training images, or 'all' (15,000)")
    p.add_argument("--epochs", type=_positive_int, help="end-to-end epochs (default depends on --labels)")
    p.add_argument("--head-epochs", type=_nonneg_int, help="head-only epochs (default depends on --labels)")
    p.add_argument("--head", default="linear", choices=["linear", "mlp"])
    p.add_argument("--shift", type=_nonneg_int, default=0, help="random shifts of up to this many pixels")
    p.add_argument("--from-scratch", action="store_true", help="random initial weights (the baseline)")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--strategy", default="default", choices=["default", "mirrored"],
                   help="tf.distribute strategy (multi-worker fine-tuning is not supported)")
    p.add_argument("--out", help="output folder (default saved_models/ENCODER_classifier_N)")
    p.add_argument("--preset", help="train a named classifier preset (mnist_classifier) instead")
    p.add_argument("--verbose", type=int, default=0, choices=[0, 1, 2])
    p.set_defaults(func=cmd_finetune)
