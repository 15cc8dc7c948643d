"""Training that knows no family: seeded fits with progress, a resumable checkpoint per phase, a NaN stop,
strategies, and the pretrained folder (model.keras, card.json, preview.png) written atomically at the end.

    zoo.training.train("ae_mnist", epochs=3)              -> runs/ae_mnist/, never saved_models/
    zoo.training.train("ae_mnist", publish=True)          -> also replaces saved_models/ae_mnist/
    zoo.training.fit(model, (x, y), (x_val, y_val), epochs=..., batch_size=..., learning_rate=...)

A family whose training is not one `fit` supplies a `train(model, data, recipe, fit)` hook and calls the
`fit` it is handed, so every phase it runs is checkpointed and resumable the same way.

Resuming: each run keeps a work folder beside its output (runs/.NAME.work) with its identity (model, config,
seed, data, recipe) and one tf.train.CheckpointManager per phase over every model variable (the random
generators' states included), the optimizer's variables and the epoch. A run started again with the same
command resumes where it was killed and ends with bit-identical weights; a different command is refused
with a message naming the backup and --restart.
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from zoo import cards, checks, compat, data as zdata, figures, io, progress, registry
from zoo.errors import NonFiniteLoss, ZooError

STRATEGIES = ("default", "mirrored", "multiworker")
LR_SCHEDULES = ("constant", "cosine")
MAX_LEARNING_RATE = 10.0
# Seconds between a phase's checkpoints, and between preview figures, after the first epoch's (a phase's last epoch
# is always saved). Saving every epoch cost more than the training where epochs are short: `zoo finetune ae_mnist
# --labels 100` runs 90 epochs of 4 steps, and its checkpoints (every variable, the Adam moments, every random
# generator: 0.16 s of CPU each) and its previews (a confusion matrix over the test split, drawn: 3.9 s each) took
# 246 of its 374 s of CPU. A kill now loses at most about this much work, which the resume redoes bit for bit.
# 0: every epoch end (what a test sets when it needs the checkpoint of a given epoch).
CHECKPOINT_SECONDS = 30.0
PREVIEW_SECONDS = 30.0


# -- strategies ----------------------------------------------------------------------------------------------
def make_strategy(name="default"):
    """default: the current (single-device) strategy; mirrored: all local devices; multiworker: the cluster
    described by TF_CONFIG."""
    if isinstance(name, tf.distribute.Strategy):
        return name
    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ZooError("--strategy multiworker needs TF_CONFIG describing the cluster (see docs/training.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ZooError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def is_chief(strategy):
    """True on the worker that writes files (the only one, outside multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def _task_suffix(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return f"-{resolver.task_type}{resolver.task_id}" if resolver is not None and resolver.task_type else ""


# -- callbacks -----------------------------------------------------------------------------------------------
class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first NaN or Inf loss and says where. It raises rather than setting stop_training, so no
    epoch-end checkpoint of the bad weights is written and the last good one stays."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.ravel(loss)[0])):
            raise NonFiniteLoss(f"the loss became {float(np.ravel(loss)[0])} at epoch {self.epoch + 1}, step "
                                f"{batch + 1}: training diverged (try a lower --learning-rate); the last good "
                                "checkpoint and any saved model are unchanged")


class EpochCounter(keras.callbacks.Callback):
    """Sets the epoch variable the input pipeline keys its shuffle and augmentation on."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class Cadence:
    """The epoch ends at which slow work (a checkpoint, a figure) is done: every one when `seconds` is 0; else the
    first of the process, then the first one at least `seconds` after the last time it was done, and the phase's
    last (its last epoch, or an early stop). It reads the clock only, so it changes no number."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds, self.clock, self.last = float(seconds), clock, None

    def due(self, callback, epoch):
        if self.seconds <= 0 or self.last is None or self.clock() - self.last >= self.seconds:
            return True
        epochs = (callback.params or {}).get("epochs")
        return (epochs is not None and epoch + 1 >= epochs) or bool(getattr(callback.model, "stop_training", False))

    def done(self):
        self.last = self.clock()


class PhaseCheckpoint(keras.callbacks.Callback):
    """Writes the phase's history and time at every epoch end, and saves every model variable, the optimizer's
    variables and the epoch with a tf.train.CheckpointManager (which moves its 'latest' pointer only once a
    checkpoint is complete): at every epoch end, or with every_seconds > 0 at the epoch ends a Cadence picks (the
    first, then about every every_seconds, and the phase's last). A resume redoes the epochs after the last
    checkpoint, bit for bit: every random generator's state is in it."""

    def __init__(self, manager, epoch, history_path, every_seconds=0.0):
        super().__init__()
        self.manager, self.epoch, self.history_path = manager, epoch, Path(history_path)
        self.cadence = Cadence(every_seconds)
        self.unsaved = None    # the last epoch that ended after the last checkpoint

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._guarded(epoch, lambda: self._write(epoch, logs))
        self.unsaved = epoch
        if self.cadence.due(self, epoch):
            self._guarded(epoch, self._save)

    def on_train_end(self, logs=None):
        # Keras ends fit after an epoch end the cadence saw as the phase's last, unless a callback after this one
        # stopped it: that end is saved here. (A raised error ends fit without this call: nothing is saved.)
        if self.unsaved is not None:
            self._guarded(self.unsaved, self._save)

    def _guarded(self, epoch, work):
        try:
            work()
        except (tf.errors.OpError, OSError) as e:
            if not _disk_full(e):
                raise
            previous = self.manager.latest_checkpoint
            kept = f"the previous checkpoint ({Path(previous).name}) is intact" if previous else "no earlier one"
            raise ZooError(f"no space left on the device: the checkpoint of epoch {epoch + 1} could not be written in "
                           f"{self.history_path.parent} ({type(e).__name__}); {kept} and any saved model is unchanged; "
                           "free some space and run the same command to resume") from None

    def _write(self, epoch, logs):
        history = json.loads(self.history_path.read_text()) if self.history_path.is_file() else {}
        # Truncate to this epoch before appending: a resumed run redoes the epochs after its checkpoint, and their
        # entries must replace the first ones, not follow them.
        for k, v in (logs or {}).items():
            history[k] = history.get(k, [])[:epoch] + [round(float(np.ravel(v)[0]), 6)]
        io.write_json_atomic(self.history_path, history)
        # Wall time summed over every process that worked on the phase, so a resumed run's card states the
        # whole training time rather than the last process's share.
        seconds_path = self.history_path.with_name("seconds.json")
        spent = io.read_json(seconds_path)["seconds"] if seconds_path.is_file() else 0.0
        io.write_json_atomic(seconds_path, {"seconds": spent + time.time() - self.epoch_start})

    def _save(self):
        self.epoch.assign(self.unsaved + 1)
        self.manager.save()
        self.unsaved = None
        self.cadence.done()


def _disk_full(error):
    """A full disk or quota, as Python (ENOSPC, EDQUOT) or TensorFlow's file writers (ResourceExhaustedError, or
    another OpError carrying the system's message) report it."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(error, tf.errors.ResourceExhaustedError) or "No space left on device" in str(error)


class PreviewDuringTraining(keras.callbacks.Callback):
    """Writes the family's preview figure at the epoch ends a Cadence of every_seconds picks (the first, then about
    every every_seconds, and the phase's last), so a long run can be watched."""

    def __init__(self, draw, path, every_seconds=0.0):
        super().__init__()
        self.draw, self.path, self.cadence = draw, Path(path), Cadence(every_seconds)

    def on_epoch_end(self, epoch, logs=None):
        if not self.cadence.due(self, epoch):
            return
        fig = self.draw(self.model)
        if fig is not None:
            figures.save(fig, self.path)
        self.cadence.done()


def _checkpoint(model, epoch):
    variables = [v.value for v in model.variables]
    # A model with several optimizers (a GAN's two) builds and returns them all from `checkpoint_optimizers()`.
    optimizers = model.checkpoint_optimizers() if hasattr(model, "checkpoint_optimizers") else [model.optimizer]
    opt = [v.value for o in optimizers for v in o.variables]
    return tf.train.Checkpoint(model=variables, optimizer=opt, epoch=epoch)


def make_optimizer(name, learning_rate):
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    raise ZooError(f"unknown optimizer {name!r}; expected adam or sgd")


# -- fit -------------------------------------------------------------------------------------------------------
def fit(model, train, val=None, *, epochs, batch_size, learning_rate=1e-3, seed=0, loss=None, phase="main",
        work_dir=None, strategy=None, optimizer="adam", lr_schedule="constant", early_stopping=None, augment=None,
        jit_compile=False, verbose=1, callbacks=()):
    """Compile and fit `model` on `train` (an array or a tuple of arrays), validating on `val`; returns the
    history as {metric: [per-epoch values]}.

    batch_size is the global batch: under a strategy each replica takes its share of every batch (build the
    model inside strategy.scope()). The input order is a function of (seed, epoch). With work_dir, the phase
    is checkpointed under work_dir/phase (after its first epoch, then every CHECKPOINT_SECONDS, and at its end)
    and a restart resumes it from there; a finished phase is restored and skipped. lr_schedule "cosine" decays to
    zero over the phase; early_stopping=N stops when the validation loss has not improved for N epochs and restores
    the best weights.
    """
    epochs = checks.count(epochs, "epochs", 1, checks.MAX_EPOCHS)
    batch_size = checks.count(batch_size, "batch_size", 1, checks.MAX_BATCH)
    learning_rate = checks.number(learning_rate, "learning_rate", 0.0, MAX_LEARNING_RATE, strict_min=True)
    checks.one_of(lr_schedule, LR_SCHEDULES, "lr_schedule")
    train = train if isinstance(train, tuple) else (train,)
    val = val if val is None or isinstance(val, tuple) else (val,)
    for i, a in enumerate(train):
        if np.issubdtype(np.asarray(a).dtype, np.floating):
            checks.finite(a, "training data")
    # A model that declares num_classes one-hots or indexes by its labels, and tf.one_hot(12, 10) is silently
    # all zeros: labels out of range are refused here, for every such family.
    num_classes = getattr(model, "num_classes", None)
    for what, arrays in (("training", train), ("validation", val or ())):
        if num_classes and len(arrays) > 1 and np.ndim(arrays[1]) == 1:
            checks.as_labels(arrays[1], len(arrays[1]), num_classes, f"{what} labels")
    if early_stopping is not None:
        early_stopping = checks.count(early_stopping, "early_stopping", 1, checks.MAX_EPOCHS)
        if val is None or not len(val[0]):
            raise ZooError("early_stopping needs a validation split; hold some images out (--validation 2000)")
    strategy = make_strategy(strategy)
    compat.check_fit_supported(model, strategy)
    data_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
    train_ds = zdata.pipeline(train, batch_size, shuffle=True, seed=seed, epoch=data_epoch, augment=augment)
    val_ds = zdata.pipeline(val, batch_size, shuffle=False, seed=seed + 1) if val is not None and len(val[0]) else None
    rate = learning_rate
    if lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * -(-len(train[0]) // batch_size))
    with strategy.scope():
        compile_kwargs = {"loss": loss} if loss is not None else {}
        model.compile(optimizer=make_optimizer(optimizer, rate), jit_compile=jit_compile, **compile_kwargs)
    cbs = [EpochCounter(data_epoch), StopOnNonFinite(), *callbacks]
    if early_stopping is not None:
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping, restore_best_weights=True))
    initial_epoch = 0
    history_path = None
    if work_dir is not None:
        phase_dir = Path(work_dir) / f"{phase}{_task_suffix(strategy)}"
        phase_dir.mkdir(parents=True, exist_ok=True)
        history_path = phase_dir / "history.json"
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        manager = tf.train.CheckpointManager(_checkpoint(model, epoch_var), str(phase_dir), max_to_keep=1)
        if manager.latest_checkpoint:
            manager.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            initial_epoch = int(epoch_var.numpy())
            if verbose:
                print(f"resuming {phase} from its checkpoint at epoch {initial_epoch} ({phase_dir})", file=sys.stderr)
        # Workers of one multi-worker run save at the same epoch ends, whatever their clocks say: a save may read
        # variables through collectives every worker must join.
        every = 0.0 if _task_suffix(strategy) else CHECKPOINT_SECONDS
        cbs.append(PhaseCheckpoint(manager, epoch_var, history_path, every_seconds=every))
        if initial_epoch >= epochs:
            return json.loads(history_path.read_text()) if history_path.is_file() else {}
    # shuffle=False: the pipeline already orders each epoch by (seed, epoch)
    h = model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs,
                  verbose=verbose, shuffle=False)
    if history_path is not None and history_path.is_file():
        return json.loads(history_path.read_text())
    return {k: [round(float(np.ravel(x)[0]), 6) for x in v] for k, v in h.history.items()}


# -- a registered model's seeded training ------------------------------------------------------------------------
def recipe_of(name, **changes):
    """The preset's recipe with the caller's changes (None means: keep the preset's)."""
    recipe = {"epochs": 10, "batch_size": 128, "learning_rate": 1e-3, "seed": 0, "validation": 2000,
              **registry.preset(name).get("train", {})}
    changed = {k: v for k, v in changes.items() if v is not None}
    recipe.update(changed)
    recipe["user_set"] = sorted(changed)
    recipe["epochs"] = checks.count(recipe["epochs"], "epochs", 1, checks.MAX_EPOCHS)
    recipe["batch_size"] = checks.count(recipe["batch_size"], "batch_size", 1, checks.MAX_BATCH)
    recipe["learning_rate"] = checks.number(recipe["learning_rate"], "learning_rate", 0.0, MAX_LEARNING_RATE,
                                            strict_min=True)
    recipe["seed"] = checks.count(recipe["seed"], "seed", 0, 2 ** 31 - 1)
    return recipe


def _identity(name, recipe, overrides, data_name, data=None, model=None):
    return json.loads(json.dumps({"model": name, "overrides": overrides, "recipe": recipe, "data": data_name,
                                  "data_sha256": data_fingerprint(data) if data is not None else None,
                                  "start_sha256": start_fingerprint(model) if model is not None else None},
                                 default=str, sort_keys=True))


def start_fingerprint(model):
    """sha256 of the model's config and of the weights it starts from: a resume whose starting point changed
    (a classifier's pretrained encoder re-trained, a preset's layer sizes edited) is refused rather than mixed in,
    which a name and a recipe alone would not catch."""
    h = hashlib.sha256(json.dumps(model.get_config(), default=str, sort_keys=True).encode())
    for weight in model.weights:
        h.update(np.asarray(weight).tobytes())
    return h.hexdigest()


def data_fingerprint(data):
    """sha256 of every split's arrays: the data's identity, so a resume on another copy of "mnist" (another
    ZOO_DATA_DIR) is refused rather than mixed in."""
    return zdata.sha256_of(json.dumps({split: zdata.sha256_of(*arrays) for split, arrays in data.items()},
                                      sort_keys=True))


@contextlib.contextmanager
def _locked(work_dir, strategy):
    """An exclusive lock on a run's work folder while the block runs: two trainings into one --out would share
    one backup, and a later resume would mix them. The lock is the kernel's (flock), so a killed run leaves
    none behind; the workers of one multi-worker run each take their own."""
    lock_path = work_dir.parent / f"{work_dir.name}{_task_suffix(strategy)}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ZooError(f"another training is writing into {work_dir.parent / work_dir.name[1:-5]} (its work folder "
                       f"{work_dir} is locked); wait for it to finish or give another --out") from None
    try:
        yield
    finally:
        handle.close()


def _prepare_work_dir(work_dir, identity, restart):
    work_dir = Path(work_dir)
    if restart and work_dir.exists():
        shutil.rmtree(work_dir)
    marker = work_dir / "run.json"
    if marker.is_file():
        try:
            stored = json.loads(marker.read_text())
        except ValueError:
            stored = None
        if stored != identity and not any(work_dir.glob("*/checkpoint")):
            # A run that failed before its first checkpoint left nothing to resume: not a backup to guard.
            shutil.rmtree(work_dir)
            return _prepare_work_dir(work_dir, identity, restart)
        if stored != identity:
            diff = sorted(k for k in set(identity["recipe"]) | set((stored or {}).get("recipe", {}))
                          if identity["recipe"].get(k) != (stored or {}).get("recipe", {}).get(k))
            what = f"it differs in {', '.join(diff)}" if diff else "its model, config or data differ"
            raise ZooError(f"{work_dir} holds the backup of another run ({what}); run the same command to resume "
                           f"it, or pass --restart to discard it")
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        io.write_json_atomic(marker, identity)
    return work_dir


def train(name, *, out=None, publish=False, restart=False, command=None, verbose=1, strategy="default",
          mixed_precision=False, jit_compile=False, deterministic=False, epochs=None, batch_size=None,
          learning_rate=None, seed=None, lr_schedule=None, early_stopping=None, recipe_changes=None, **overrides):
    """Train a registered model with its preset recipe; writes runs/NAME (or `out`), and with publish also
    replaces saved_models/NAME. Returns (model, card, folder)."""
    p = registry.preset(name)
    family = registry.family(name)
    # recipe_changes may name a recipe key that is also a keyword here (epochs, ...); a keyword set wins.
    keywords = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                    lr_schedule=lr_schedule, early_stopping=early_stopping)
    recipe = recipe_of(name, **{**(recipe_changes or {}), **{k: v for k, v in keywords.items() if v is not None}})
    out = Path(out) if out else registry.runs_dir() / name
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file; expected a folder to write the model into")
    if out.resolve().parent == registry.saved_models_dir().resolve() and not publish:
        raise ZooError(f"{out} is a shipped model's folder; train into runs/ and pass --publish to replace it")
    strategy = make_strategy(strategy)
    # Before any data is read or any model is built: a family no test proves under multi-worker is refused here.
    compat.check_multiworker(p["class"], {**p.get("config", {}), **overrides}, strategy,
                             f"{p['family']} model {name} ({p['class'].__name__})")
    data = zdata.splits(p["data"], validation=recipe["validation"], seed=recipe["seed"],
                        chosen="validation" in recipe["user_set"])
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(recipe["seed"])
    with strategy.scope():
        model = registry.create_model(name, **overrides)
    # Only now, with the config and the data known to be good: a mistyped --set leaves no backup behind.
    work_dir = out.parent / f".{out.name}.work"
    with _locked(work_dir, strategy):
        work_dir = _prepare_work_dir(work_dir, _identity(name, recipe, overrides, p["data"], data, model), restart)
        preview = registry.hook(family, "preview")
        callbacks = ([PreviewDuringTraining(lambda m: preview(m, data), work_dir / "preview.png", PREVIEW_SECONDS)]
                     if preview and is_chief(strategy) else [])

        def bound_fit(model, train, val=None, **kwargs):
            kwargs.setdefault("seed", recipe["seed"])
            return fit(model, train, val, work_dir=work_dir, strategy=strategy, jit_compile=jit_compile, verbose=verbose,
                       callbacks=callbacks if kwargs.get("phase", "main") in ("main", "all") else (), **kwargs)

        # A family whose training is its own loop (reinforcement learning) checkpoints in the same work folder.
        bound_fit.work_dir, bound_fit.verbose = work_dir, verbose
        bound_fit.out = out    # the run's folder, for what a hook writes beside it (the GAN's sample grids)
        start = time.time()
        hook = registry.hook(family, "train")
        if hook is not None:
            history, extra = hook(model, data, recipe, bound_fit)
        else:
            history, extra = bound_fit(model, data["train"], data["val"], epochs=recipe["epochs"],
                                       batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"],
                                       lr_schedule=recipe.get("lr_schedule", "constant"),
                                       early_stopping=recipe.get("early_stopping")), {}
        seconds = time.time() - start
        epoch_seconds = [io.read_json(p)["seconds"] for p in Path(work_dir).glob("*/seconds.json")]
        if epoch_seconds:
            seconds = max(seconds, sum(epoch_seconds))
        if not is_chief(strategy):
            return model, None, None
        # the optimizer the last phase compiled (fit's optimizer= may be sgd), not a fixed name
        optimizer_name = type(model.optimizer).__name__ if getattr(model, "optimizer", None) is not None else "Adam"
        training = {"command": command or f"zoo train {name}", **recipe, "optimizer": optimizer_name, "seconds": round(seconds, 1),
                    "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
                    "mixed_precision": mixed_precision, "jit_compile": jit_compile,
                    "epochs_run": len(history.get("loss", [])),
                    "final": {k: v[-1] for k, v in history.items() if v}}
        with progress.shown(verbose):   # the test figures (AIS, k=1000 IWAE) take minutes: the same verbose as fit
            card = write_pretrained(name, model, data, training, out, extra)
        shutil.rmtree(work_dir, ignore_errors=True)
        if publish:
            publish_run(name, out)
        return model, card, out


def card_figures(metrics):
    """A card's "metrics": the test split's figures, floats to 4 decimals."""
    return {"split": "test", **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}}


def make_card(name, model, data, training, extra=None):
    p = registry.preset(name)
    family = registry.family(name)
    config = model.get_config()
    config.pop("trainable", None)
    config.pop("encoder", None)  # a classifier's encoder is in the model file; the card names where it came from
    # Without a data set (an RL agent), test_metrics measures the model in its environment.
    test = data["test"][0] if data is not None else None
    counted = f" ({len(test):,} examples)" if test is not None and not isinstance(test, str) else ""
    progress.stage(f"{name}: measuring for the card" + (f" on the test split{counted}" if test is not None else ""))
    metrics = model.test_metrics(*data["test"]) if data is not None else model.test_metrics(None)
    card = {"name": name, "family": p["family"], "description": p["description"], "class": type(model).__name__,
            "config": config, "requires": p.get("requires", {}), "parameters": model.count_params_unique(),
            "data": zdata.record(p["data"], data, training.get("seed")),
            "training": training,
            "metrics": card_figures(metrics),
            "versions": io.versions(), **(extra or {})}
    hook = registry.hook(family, "card_metrics")
    if hook is not None:
        card.update(hook(model, data))
    return card


def remeasure(name_or_folder, *, command=None, verbose=1):
    """Measure a trained model's card again on today's data, without training, and write the card (beside, then
    renamed): the test metrics and the family's card_metrics on the test split of the data set the card names.

    When today's data is not what the model was trained on (the card's arrays' sha256 differ, or an older card
    has none), what it was trained on stays on the card as data["trained_on"], and the figures it held before
    move to "earlier_metrics" with the note saying which data they were measured on. verbose: the slow figures'
    progress on stderr (zoo.progress). Returns the new card."""
    path = Path(registry.model_path(name_or_folder)).parent / io.CARD_FILE
    card = io.read_json(path, "model card")
    if not isinstance(card, dict) or card.get("name") not in registry.PRESETS:
        raise ZooError(f"{path} names no registered model; expected a card written by zoo train")
    name = card["name"]
    p = registry.preset(name)
    model = registry.load(name_or_folder)
    run = card.get("training") or {}
    data = zdata.splits(p["data"], validation=run.get("validation", 2000), seed=run.get("seed", 0))
    if data is None:
        metrics = model.test_metrics(None)
    else:
        print(f"{name}: measuring on the test split ({len(data['test'][0]):,} examples)", file=sys.stderr, flush=True)
        with progress.shown(verbose):
            metrics = model.test_metrics(*data["test"])
    today = zdata.record(p["data"], data, run.get("seed", 0))
    before = card.get("data") or {}
    trained = before.get("trained_on", before)
    counts = ("train_examples", "val_examples", "test_examples")
    moved = (trained.get("sha256") != today.get("sha256") if "sha256" in trained else
             any(trained.get(k, trained.get("validation_examples")) != today.get(k) for k in counts))
    if data is not None and moved:
        # what the model learnt from: its train and validation data (its old test split measured nothing of it)
        trained = {("val_examples" if k == "validation_examples" else k): v for k, v in trained.items()
                   if k != "test_examples"}
        today["trained_on"] = trained
        today["note"] = (f"{today['note']}. The model was trained on earlier data (trained_on says which); the train "
                         f"and val counts here are today's splits, which only the card's baselines use")
        if "earlier_metrics" not in card:
            card["earlier_metrics"] = {"data": trained.get("note"), "metrics": card.get("metrics")}
    card["data"] = today
    card["metrics"] = card_figures(metrics)
    card["remeasured"] = {"command": command or f"zoo evaluate {name} --write-card", "versions": io.versions(),
                          "date": time.strftime("%Y-%m-%d")}
    hook = registry.hook(registry.family(name), "card_metrics")
    if hook is not None:
        print(f"{name}: the card's other figures", file=sys.stderr, flush=True)
        card.update(hook(model, data))
    io.write_json_atomic(path, card)
    if (path.parent / cards.README_FILE).is_file():   # a shipped model's README follows its card
        cards.write_readme(path.parent)
    return card


def write_pretrained(name, model, data, training, out, extra=None):
    """model.keras, card.json and preview.png, written beside and swapped in. Returns the card."""
    card = make_card(name, model, data, training, extra)
    preview = registry.hook(registry.family(name), "preview")
    fig = preview(model, data) if preview else None
    files = {"preview.png": lambda path: figures.save(fig, path)} if fig is not None else {}
    registry.save_model(model, out, card, files)
    return card


def publish_run(name, run_folder):
    """Replace saved_models/NAME with a finished run's folder; says what it replaced."""
    run_folder = Path(run_folder)
    target = registry.saved_models_dir() / name
    before = None
    if (target / io.CARD_FILE).is_file():
        try:
            before = json.loads((target / io.CARD_FILE).read_text()).get("metrics")
        except ValueError:
            before = "unreadable card"
    files = {item.name: (lambda path, item=item: (shutil.copytree if item.is_dir() else shutil.copy2)(item, path))
             for item in run_folder.iterdir()}
    # The model card README, generated from the run's card, swaps in with the rest.
    card, exports = cards.read_folder(run_folder)
    files[cards.README_FILE] = lambda path: Path(path).write_text(cards.render_readme(card, exports))
    # Replaced whole: the old folder's exports were made from the old weights and would contradict the new ones.
    io.write_dir_atomic(target, files, keep_existing=False)
    print(f"published {run_folder} to {target}; it replaced a model whose test metrics were: {before}",
          file=sys.stderr)
    return target


def command_line():
    return " ".join(["zoo"] + [shlex.quote(a) for a in sys.argv[1:]])
