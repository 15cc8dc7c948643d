"""Fit helpers: seeded training of a preset, with progress, per-epoch checkpoints, a preview picture per
epoch, and a pretrained folder (model.keras, card.json, preview.png) written atomically at the end."""

import json
import math
import os
import shutil
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


class NonFiniteLoss(ZooError):
    """Training produced a NaN or Inf loss."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first NaN or Inf loss and says where.

    It raises rather than setting stop_training: Keras would still run the epoch-end callbacks, and the
    backup would then hold the bad weights. Raising leaves the last good backup untouched.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(f"loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}; "
                                "training stopped, the last good checkpoint and any saved model are unchanged")


class EpochCounter(keras.callbacks.Callback):
    """Sets the epoch variable the input pipeline keys its shuffle and noise on (see zoo.data.pipeline)."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose weights and epoch counter change together.

    Keras writes latest.weights.h5 and training_metadata.json one after the other; a SIGKILL between
    the two would resume epoch k's weights as if they were epoch k-1's. Here each backup is written to
    a fresh folder that then replaces the old one by rename, so a kill at any point leaves a complete
    backup: the new one, or the old one (kept as <dir>.old while the swap happens).
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)
        self._final_dir = backup_dir
        self._old_dir = backup_dir + ".old"

    def on_train_begin(self, logs=None):
        if not os.path.isdir(self._final_dir) and os.path.isdir(self._old_dir):
            os.replace(self._old_dir, self._final_dir)  # killed between the two renames of a swap
        shutil.rmtree(self._old_dir, ignore_errors=True)
        super().on_train_begin(logs)

    def _save_model(self):
        tmp = self._final_dir + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self.model.save_weights(os.path.join(tmp, "latest.weights.h5"), overwrite=True)
        with open(os.path.join(tmp, "training_metadata.json"), "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
        if os.path.isdir(self._final_dir):
            os.replace(self._final_dir, self._old_dir)
        os.replace(tmp, self._final_dir)
        shutil.rmtree(self._old_dir, ignore_errors=True)


STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name="default"):
    """default: the current (single-device) strategy; mirrored: all local devices; multiworker: the
    cluster described by TF_CONFIG."""
    if isinstance(name, tf.distribute.Strategy):
        return name
    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        import os

        if "TF_CONFIG" not in os.environ:
            raise ZooError("--strategy multiworker needs TF_CONFIG describing the cluster (see README)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ZooError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def is_chief(strategy):
    """True on the worker that writes files (the only one, outside multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


LR_SCHEDULES = ("constant", "cosine")


def make_optimizer(name, learning_rate):
    """learning_rate: a float or a keras LearningRateSchedule."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    raise ZooError(f"unknown optimizer {name!r}; expected adam or sgd")


def check_positive(**values):
    for k, v in values.items():
        if v is None or int(v) != v or v <= 0:
            raise ZooError(f"{k} must be a positive integer, got {v!r}")


def fit(model, splits, epochs, batch_size, learning_rate=1e-3, seed=0, work_dir=None,
        dynamic_binarization=False, verbose=1, extra_callbacks=(), strategy=None, optimizer="adam",
        jit_compile=False, lr_schedule="constant", early_stopping=None):
    """Compile and fit on splits["train"], validating on splits["val"].

    batch_size is the global batch: under a strategy, each replica takes its share of every batch. Build
    the model inside `strategy.scope()` (train_preset does); compiling happens here, in the same scope.
    With a work_dir, training state is backed up every epoch (BackupAndRestore), and the input order is a
    function of (seed, epoch), so a killed run started again with the same command ends with the same
    weights as an uninterrupted one.

    lr_schedule "cosine" decays the learning rate to zero over the run. early_stopping=N stops when the
    validation loss (for VAEs the validation negative ELBO) has not improved for N epochs, and restores
    the best weights.
    """
    check_positive(epochs=epochs, batch_size=batch_size)
    if lr_schedule not in LR_SCHEDULES:
        raise ZooError(f"unknown lr_schedule {lr_schedule!r}; expected one of {', '.join(LR_SCHEDULES)}")
    if early_stopping is not None:
        check_positive(early_stopping=early_stopping)
        if not len(splits["val"][0]):
            raise ZooError("early_stopping needs a validation split")
    strategy = make_strategy(strategy)
    x_train, y_train = splits["train"]
    x_val, y_val = splits["val"]
    check_finite(x_train, "training data")
    labelled = getattr(model, "needs_labels", False)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
    train_ds = zdata.pipeline(x_train, y_train if labelled else None, batch_size, shuffle=True, seed=seed,
                              dynamic_binarization=dynamic_binarization, epoch=epoch)
    val_ds = zdata.pipeline(x_val, y_val if labelled else None, batch_size, shuffle=False, seed=seed + 1,
                            dynamic_binarization=dynamic_binarization,
                            epoch=tf.Variable(0, dtype=tf.int64, trainable=False)) if len(x_val) else None
    rate = learning_rate
    if lr_schedule == "cosine":
        steps = epochs * -(-len(x_train) // batch_size)
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    with strategy.scope():
        model.compile(optimizer=make_optimizer(optimizer, rate), jit_compile=jit_compile)
    callbacks = [EpochCounter(epoch), StopOnNonFinite(), *extra_callbacks]
    if early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(early_stopping),
                                                       restore_best_weights=True))
    if work_dir is not None:
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        # Every worker of a multi-worker run keeps its own (identical) backup: no two writers share a file.
        resolver = getattr(strategy, "cluster_resolver", None)
        task = f"-{resolver.task_type}{resolver.task_id}" if resolver is not None and resolver.task_type else ""
        callbacks.append(AtomicBackupAndRestore(str(work_dir / f"backup{task}")))
        if is_chief(strategy):
            callbacks.append(keras.callbacks.CSVLogger(str(work_dir / "history.csv"), append=True))
            preview_x = x_val[:10] if len(x_val) else x_train[:10]
            callbacks.append(PreviewCallback(preview_x, work_dir / "preview.png"))
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)


def check_finite(x, what):
    if not np.all(np.isfinite(x)):
        raise ZooError(f"{what} contains NaN or Inf; clean it before training")


def evaluate(model, split):
    x, y = split
    metrics = model.test_metrics(x, y)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def train_preset(name, epochs=None, batch_size=None, seed=0, out=None, learning_rate=None, verbose=1,
                 command=None, strategy="default", mixed_precision=False, jit_compile=False,
                 deterministic=False, lr_schedule=None, early_stopping=None, **overrides):
    """Train a registered model with its preset recipe and write a pretrained folder to `out`
    (default saved_models/<name>). Returns (model, card).

    strategy: "default", "mirrored" or "multiworker" (or a tf.distribute.Strategy); model, optimizer and
    metrics are built in its scope and batch_size stays the global batch. mixed_precision computes in
    float16 while the losses and likelihoods stay float32. deterministic turns on TensorFlow's
    deterministic ops, which make a resumed run bit-identical to an uninterrupted one.
    """
    p = registry.preset(name)
    recipe = dict(p.get("train", {}))
    if "layerwise_pretrain_epochs" in recipe:
        # The stacked model's recipe is greedy layer-wise pretraining, then fine-tuning of the stack.
        from zoo.pretrain import train_stacked

        if lr_schedule not in (None, "constant") or early_stopping is not None:
            raise ZooError(f"{name}'s layer-wise recipe does not take lr_schedule or early_stopping")
        return train_stacked(name, epochs=epochs, batch_size=batch_size, seed=seed, out=out,
                             learning_rate=learning_rate, verbose=verbose, command=command, strategy=strategy,
                             mixed_precision=mixed_precision, jit_compile=jit_compile,
                             deterministic=deterministic, **overrides)
    epochs = epochs if epochs is not None else recipe.get("epochs", 10)
    batch_size = batch_size if batch_size is not None else recipe.get("batch_size", 128)
    learning_rate = learning_rate if learning_rate is not None else recipe.get("learning_rate", 1e-3)
    lr_schedule = lr_schedule or recipe.get("lr_schedule", "constant")
    early_stopping = early_stopping if early_stopping is not None else recipe.get("early_stopping")
    check_positive(epochs=epochs, batch_size=batch_size)
    out = Path(out) if out else registry.saved_models_dir() / name
    work_dir = out.parent / f".{out.name}.work"

    splits = zdata.mnist_splits(validation=recipe.get("validation", 2000), seed=seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = make_strategy(strategy)
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = registry.build(name, **overrides)
    start = time.time()
    history = fit(model, splits, epochs, batch_size, learning_rate, seed, work_dir,
                  dynamic_binarization=recipe.get("dynamic_binarization", False), verbose=verbose,
                  strategy=strategy, jit_compile=jit_compile, lr_schedule=lr_schedule,
                  early_stopping=early_stopping)
    seconds = time.time() - start
    if not is_chief(strategy):
        return model, None  # only the chief writes the pretrained folder
    training = {"command": command or f"python -m zoo train {name} --epochs {epochs} "
                                      f"--batch-size {batch_size} --seed {seed}",
                "seed": seed, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                "optimizer": "Adam", "seconds": round(seconds, 1),
                "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
                "mixed_precision": mixed_precision, "jit_compile": jit_compile,
                "lr_schedule": lr_schedule, "early_stopping": early_stopping,
                "epochs_run": len(history.history.get("loss", [])),
                "final": {k: round(float(v[-1]), 4) for k, v in history.history.items()}}
    card = save_pretrained(name, model, splits, training, out)
    shutil.rmtree(work_dir, ignore_errors=True)
    return model, card


def save_pretrained(name, model, splits, training, out, extra=None):
    """Evaluate on the test split and write the pretrained folder every family shares: model.keras,
    card.json (family, config, parameters, data, training recipe, test metrics, versions, and the model's
    own card_extras) and preview.png, atomically. Returns the card."""
    p = registry.preset(name)
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
        "training": training,
        "metrics": {"split": "test", **evaluate(model, splits["test"])},
        "versions": versions(),
        **(extra or {}),
    }
    card.update(model.card_extras(splits) if hasattr(model, "card_extras") else {})
    preview = model.preview(splits["test"][0][:10])
    registry.save_model_dir(model, out, card, extra_files={"preview.png": lambda path: write_png(path, preview)})
    return card


def command_line():
    return " ".join(["python -m zoo"] + [shlex.quote(a) for a in sys.argv[1:]])


def dumps(obj):
    return json.dumps(obj, indent=2)
from zoo.pretrain import pretrain_layerwise  # noqa: E402
from zoo.finetune import fine_tune  # noqa: E402
