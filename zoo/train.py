"""Fit helpers: seeded training of a preset, with progress, per-epoch checkpoints, a preview picture per
epoch, and a pretrained folder (model.keras, card.json, preview.png) written atomically at the end."""

import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from zoo import data as zdata
from zoo import registry
from zoo.errors import ZooError
from zoo.images import write_png

DATA_NOTE = ("MNIST as read by zoo.data: with ZOO_DATA_DIR=../shared/data, the first 19,690 official "
             "training images; x_train = first 17,000 (2,000 of them held out for validation), "
             "x_test = the other 2,690")


def versions():
    import tensorflow_probability as tfp

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "tensorflow_probability": tfp.__version__, "numpy": np.__version__}


class PreviewCallback(keras.callbacks.Callback):
    """Writes the model's preview picture (originals over reconstructions, or samples) after each epoch."""

    def __init__(self, images, path):
        super().__init__()
        self.images, self.path = images, Path(path)

    def on_epoch_end(self, epoch, logs=None):
        write_png(self.path, self.model.preview(self.images))


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first NaN or Inf loss and says where, before a bad step reaches a checkpoint."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.message = f"loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}; training stopped"
            self.model.stop_training = True


def check_positive(**values):
    for k, v in values.items():
        if v is None or int(v) != v or v <= 0:
            raise ZooError(f"{k} must be a positive integer, got {v!r}")


def fit(model, splits, epochs, batch_size, learning_rate=1e-3, seed=0, work_dir=None,
        dynamic_binarization=False, verbose=1, extra_callbacks=()):
    """Compile with Adam and fit on splits["train"], validating on splits["val"].

    With a work_dir, training state is backed up every epoch (BackupAndRestore), so a killed run started
    again with the same command resumes where it was.
    """
    check_positive(epochs=epochs, batch_size=batch_size)
    keras.utils.set_random_seed(seed)
    x_train, y_train = splits["train"]
    x_val, y_val = splits["val"]
    labelled = getattr(model, "needs_labels", False)
    train_ds = zdata.pipeline(x_train, y_train if labelled else None, batch_size, shuffle=True, seed=seed,
                              dynamic_binarization=dynamic_binarization)
    val_ds = zdata.pipeline(x_val, y_val if labelled else None, batch_size, shuffle=False, seed=seed + 1,
                            dynamic_binarization=dynamic_binarization) if len(x_val) else None
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    stopper = StopOnNonFinite()
    callbacks = [stopper, *extra_callbacks]
    if work_dir is not None:
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.BackupAndRestore(str(work_dir / "backup")))
        callbacks.append(keras.callbacks.CSVLogger(str(work_dir / "history.csv"), append=True))
        callbacks.append(PreviewCallback(x_val[:10] if len(x_val) else x_train[:10], work_dir / "preview.png"))
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if stopper.message:
        raise ZooError(stopper.message)
    return history


def evaluate(model, split):
    x, y = split
    metrics = model.test_metrics(x, y)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def train_preset(name, epochs=None, batch_size=None, seed=0, out=None, learning_rate=None, verbose=1,
                 command=None, **overrides):
    """Train a registered model with its preset recipe and write a pretrained folder to `out`
    (default saved_models/<name>). Returns (model, card)."""
    p = registry.preset(name)
    recipe = dict(p.get("train", {}))
    epochs = epochs if epochs is not None else recipe.get("epochs", 10)
    batch_size = batch_size if batch_size is not None else recipe.get("batch_size", 128)
    learning_rate = learning_rate if learning_rate is not None else recipe.get("learning_rate", 1e-3)
    check_positive(epochs=epochs, batch_size=batch_size)
    out = Path(out) if out else registry.saved_models_dir() / name
    work_dir = out.parent / f".{out.name}.work"

    splits = zdata.mnist_splits(validation=recipe.get("validation", 2000), seed=seed)
    keras.utils.set_random_seed(seed)
    model = registry.build(name, **overrides)
    start = time.time()
    history = fit(model, splits, epochs, batch_size, learning_rate, seed, work_dir,
                  dynamic_binarization=recipe.get("dynamic_binarization", False), verbose=verbose)
    seconds = time.time() - start
    metrics = evaluate(model, splits["test"])
    config = model.get_config()
    config.pop("trainable", None)
    card = {
        "name": name,
        "family": p["family"],
        "description": p["description"],
        "class": type(model).__name__,
        "config": config,
        "parameters": model.count_params_unique(),
        "data": {"dataset": "mnist", "note": DATA_NOTE, "train_examples": int(len(splits["train"][0])),
                 "validation_examples": int(len(splits["val"][0])),
                 "test_examples": int(len(splits["test"][0]))},
        "training": {"command": command or f"python -m zoo train {name} --epochs {epochs} "
                                           f"--batch-size {batch_size} --seed {seed}",
                     "seed": seed, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "optimizer": "Adam", "seconds": round(seconds, 1),
                     "final": {k: round(float(v[-1]), 4) for k, v in history.history.items()}},
        "metrics": {"split": "test", **metrics},
        "versions": versions(),
    }
    card.update(model.card_extras(splits) if hasattr(model, "card_extras") else {})
    preview = model.preview(splits["test"][0][:10])
    registry.save_model_dir(model, out, card, extra_files={"preview.png": lambda path: write_png(path, preview)})
    import shutil

    shutil.rmtree(work_dir, ignore_errors=True)
    return model, card


def command_line():
    return " ".join(["python -m zoo"] + [shlex.quote(a) for a in sys.argv[1:]])


def dumps(obj):
    return json.dumps(obj, indent=2)
from zoo.pretrain import pretrain_layerwise  # noqa: E402
