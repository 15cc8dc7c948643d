"""Nothing lost: a killed training run resumes to the very weights of an uninterrupted one, a resume with another
identity is refused, a NaN stops training without touching the last good checkpoint, and a folder swap leaves
either the complete old or the complete new model under its name at every instant."""

import json
import os
import sys
import threading
import time

import keras
import numpy as np
import pytest

import zoo
from zoo import io, registry, training
from zoo.errors import NonFiniteLoss, ZooError
from conftest import needs_mnist, zoo_env, kill_then_resume

TINY = {"hidden_units": [16], "latent_dim": 2}
TINY_SET = ["--set", "hidden_units=[16]", "--set", "latent_dim=2"]


# -- SIGKILL during training, a real process --------------------------------------------------------------------
def _train_command(name, out):
    # No --deterministic: on CPU the kernels these models use are deterministic already, so the resumed
    # weights match bit for bit without it (the claim is about the plain command a user runs).
    return [sys.executable, "-m", "zoo", "train", name, *TINY_SET, "--epochs", "3", "--batch-size", "32",
            "--seed", "3", "--verbose", "2", "--out", str(out)]


@needs_mnist
# One model per training loop: the autoencoder's, and the VAE's (the conditional one, whose loop also carries the labels).
@pytest.mark.parametrize("name", ["ae_mnist", "cvae_mnist"])
@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(name, tmp_path, small_data_dir):
    env = zoo_env(ZOO_DATA_DIR=small_data_dir, ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")
    run = kill_then_resume(lambda out: _train_command(name, out), tmp_path, env, first_epoch_line="Epoch 1/3")
    resumed_at = [int(line.split("at epoch ")[1].split()[0]) for line in run.again.stderr.splitlines()
                  if line.startswith("resuming main from its checkpoint at epoch ")]
    assert len(resumed_at) == 1 and 1 <= resumed_at[0] < 3, run.again.stderr[-2000:]
    # The history of the epochs before the kill survives too: the card reports all three.
    card = run.cards[1]["training"]
    assert card["epochs_run"] == 3
    assert card["command"] == f"zoo train {name} --set 'hidden_units=[16]' --set latent_dim=2 " + \
        f"--epochs 3 --batch-size 32 --seed 3 --verbose 2 --out {tmp_path / 'resumed'}"


# -- every random generator is in the checkpoint ----------------------------------------------------------------
class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("name, config", [
    ("vae_mnist", TINY),                                          # reparameterisation and binarization seeds
    ("dae_mnist", {"latent_dim": 16}),                            # the corruption layer's seed generators
    ("ae_mnist", {**TINY, "hidden_dropout": 0.3}),                # dropout's seed generators
], ids=["vae", "denoising", "dropout"])
@pytest.mark.slow
def test_a_resumed_fit_draws_the_random_numbers_an_uninterrupted_one_draws(name, config, tmp_path, rng):
    x = (rng.random((256, 784)) < 0.3).astype(np.float32)
    args = dict(epochs=2, batch_size=64, seed=5, verbose=0)

    keras.utils.set_random_seed(0)
    straight = zoo.create_model(name, **config)
    training.fit(straight, x, work_dir=tmp_path / "a", **args)

    keras.utils.set_random_seed(0)
    first = zoo.create_model(name, **config)
    training.fit(first, x, work_dir=tmp_path / "b", **{**args, "epochs": 1})
    # A new process would start from a freshly built model: its generators at their initial states.
    keras.utils.set_random_seed(0)
    second = zoo.create_model(name, **config)
    counter = CountBatches()
    training.fit(second, x, work_dir=tmp_path / "b", callbacks=[counter], **args)
    assert counter.batches == 4  # one epoch of 256 / 64 batches: epoch 1 came from the checkpoint

    for va, vb in zip(straight.variables, second.variables):
        # (seed generators get numbered names, so two instances' paths differ in the number only)
        assert va.path.split("/")[-1] == vb.path.split("/")[-1]
        assert np.array_equal(np.asarray(va), np.asarray(vb)), va.path
    # Without the generators' states in the checkpoint, epoch 2 would redraw epoch 1's noise and differ.
    assert any("seed_generator_state" in v.path for v in second.variables)


# -- NaN ----------------------------------------------------------------------------------------------------------
class Poison(keras.callbacks.Callback):
    """Makes every weight NaN before step `step` of epoch `epoch` (both from 0), as a diverging run would, and
    records the weights at the end of every epoch."""

    def __init__(self, epoch, step):
        super().__init__()
        self.at, self.epoch, self.after_epoch = (epoch, step), 0, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.after_epoch[epoch + 1] = self.model.get_weights()

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            # Every weight: a NaN in one kernel alone can vanish behind a ReLU (max(NaN, 0) = 0).
            for w in self.model.trainable_weights:
                w.assign(np.full(w.shape, np.nan, np.float32))


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_SECONDS", 0)    # a checkpoint at every epoch end: epoch 2's is the last
    x = rng.random((512, 784), dtype=np.float32)
    model = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=3)
    poison = Poison(epoch=2, step=1)
    with pytest.raises(NonFiniteLoss, match=r"at epoch 3, step 2.*last good checkpoint"):
        training.fit(model, x, epochs=5, batch_size=128, work_dir=tmp_path, verbose=0, callbacks=[poison])
    # A fresh model asked for the two epochs that completed restores them from the checkpoint and trains
    # nothing: the weights are those at the end of epoch 2, finite.
    fresh = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=3)
    counter = CountBatches()
    training.fit(fresh, x, epochs=2, batch_size=128, work_dir=tmp_path, verbose=0, callbacks=[counter])
    assert counter.batches == 0
    for good, restored in zip(poison.after_epoch[2], fresh.get_weights()):
        assert np.all(np.isfinite(restored)) and np.array_equal(good, restored)


def test_training_data_with_nan_is_refused(rng):
    x = rng.random((64, 784), dtype=np.float32)
    x[3, 5] = np.nan
    model = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    with pytest.raises(ZooError, match="training data contains NaN"):
        training.fit(model, x, epochs=1, batch_size=16, verbose=0)


# -- a run's identity ---------------------------------------------------------------------------------------------
@needs_mnist
@pytest.mark.slow
def test_a_resume_with_another_identity_is_refused_and_restart_discards_it(tmp_path, small_data_dir, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    out = tmp_path / "run"
    work = tmp_path / ".run.work"
    run = dict(out=out, epochs=1, batch_size=256, seed=1, verbose=0, **TINY)

    def interrupted(**changes):
        """The run, killed after its training and before its save: the backup is complete, nothing is saved."""
        def die(*a, **k):
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(training, "write_pretrained", die)
            with pytest.raises(KeyboardInterrupt):
                training.train("ae_mnist", **{**run, **changes})
        assert (work / "run.json").is_file() and (work / "main" / "checkpoint").is_file()

    interrupted()
    for changes, differs in (({"seed": 2}, "seed"), ({"epochs": 2}, "epochs"), ({"batch_size": 128}, "batch_size")):
        with pytest.raises(ZooError) as e:
            training.train("ae_mnist", **{**run, **changes})
        message = str(e.value)
        assert str(work) in message and "--restart" in message and f"differs in {differs}" in message
    with pytest.raises(ZooError, match=r"its model, config or data differ.*--restart"):
        training.train("ae_mnist", **{**run, "latent_dim": 3})
    # Another copy of "mnist" (another ZOO_DATA_DIR) that differs in one pixel is other data.
    with np.load(small_data_dir / "mnist.npz") as f:
        arrays = dict(f)
    arrays["x_test"][0, 0, 0] ^= 1
    (tmp_path / "other_data").mkdir()
    np.savez(tmp_path / "other_data" / "mnist.npz", **arrays)
    with monkeypatch.context() as m:
        m.setenv("ZOO_DATA_DIR", str(tmp_path / "other_data"))
        with pytest.raises(ZooError, match=r"its model, config or data differ.*--restart"):
            training.train("ae_mnist", **run)
    assert not out.exists()

    _, card, _ = training.train("ae_mnist", **run)   # the same command resumes and finishes
    assert card["training"]["seed"] == 1 and not work.exists()

    interrupted()
    _, card, _ = training.train("ae_mnist", **{**run, "seed": 2}, restart=True)
    assert card["training"]["seed"] == 2 and not work.exists()


@needs_mnist
@pytest.mark.slow
def test_a_run_that_failed_before_any_checkpoint_blocks_nothing(zoo_dirs, small_data_dir, monkeypatch):
    runs, _ = zoo_dirs
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    # A mistyped config value is refused before a backup folder exists.
    with pytest.raises(ZooError, match="free_bits must be a finite number"):
        training.train("vae_mnist", epochs=1, free_bits=float("nan"), **TINY)
    assert not runs.exists() or not any(runs.iterdir())
    # A run killed before its first checkpoint leaves an identity and nothing to resume: another command proceeds.
    work = runs / ".ae_mnist.work"
    work.mkdir(parents=True)
    (work / "run.json").write_text(json.dumps({"model": "ae_mnist", "recipe": {"seed": 99}}))
    _, card, folder = training.train("ae_mnist", epochs=1, batch_size=256, verbose=0, **TINY)
    assert folder == runs / "ae_mnist" and card["training"]["seed"] == 0 and not work.exists()


@needs_mnist
@pytest.mark.slow
def test_a_second_training_into_the_same_folder_is_refused_while_the_first_runs(tmp_path, small_data_dir, monkeypatch):
    """Two runs into one --out would share one backup, and a resume would mix them. A lock held on the work
    folder, as a running training holds it (flock from another open file, as another process would), refuses the
    second in one line; released, the same command trains."""
    import fcntl

    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    out = tmp_path / "run"
    run = dict(out=out, epochs=1, batch_size=256, verbose=0, **TINY)
    with open(tmp_path / ".run.work.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ZooError, match=f"another training is writing into {out} .*give another --out"):
            training.train("ae_mnist", **run)
        assert not out.exists() and not (tmp_path / ".run.work").exists()
    _, card, folder = training.train("ae_mnist", **run)
    assert folder == out and card["training"]["epochs_run"] == 1


# -- folders: swaps, leftovers, temporaries, permissions ---------------------------------------------------------
def _write_version(folder, version):
    return io.write_dir_atomic(folder, {name: (lambda path: path.write_text(str(version))) for name in
                                        ("model.keras", "card.json", "preview.png")})


def test_a_reader_sees_a_complete_folder_at_every_instant_of_a_swap(tmp_path):
    a, b = tmp_path / "x", tmp_path / "y"
    a.mkdir(), b.mkdir()
    if not io._exchange(a, b):
        pytest.skip("this file system has no renameat2 RENAME_EXCHANGE; the two-rename fallback applies")
    folder = tmp_path / "model"
    _write_version(folder, 0)
    seen, errors, done = set(), [], threading.Event()

    def reader():
        while not done.is_set():
            try:
                # One directory handle, so every file read comes from one folder.
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                errors.append("the folder was missing")
                continue
            try:
                contents = set()
                for name in ("model.keras", "card.json", "preview.png"):
                    with open(os.open(name, os.O_RDONLY, dir_fd=fd)) as f:
                        contents.add(f.read())
            except FileNotFoundError:
                contents = None
            # A folder swapped out while it was read is being deleted: what it held then says nothing. One
            # still under the name afterwards was under it throughout, and must be whole and of one version.
            current = os.stat(folder).st_ino == os.fstat(fd).st_ino
            os.close(fd)
            if current:
                if contents is None or len(contents) != 1:
                    errors.append(f"an incomplete or mixed folder: {contents}")
                else:
                    seen.update(contents)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in range(1, 150):
            _write_version(folder, version)
    finally:
        done.set()
        thread.join()
    assert not errors, errors[:5]
    assert len(seen) >= 3   # the reader did read while the swaps went on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "x", "y"]   # no temporary left


def _tiny_saved(folder, card):
    model = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    registry.save_model(model, folder, card=card)
    return model


@pytest.mark.slow
def test_a_swap_killed_between_its_two_renames_is_recovered_on_the_next_start(zoo_dirs, rng):
    _, models = zoo_dirs
    x = rng.random((3, 784), dtype=np.float32)
    model = _tiny_saved(models / "ae_mnist", {"name": "ae_mnist", "version": "old"})
    expected = model.reconstruct(x)
    # The fallback's state after `rename(NAME, .NAME.old)` and before `rename(tmp, NAME)`: no NAME at all.
    os.replace(models / "ae_mnist", models / ".ae_mnist.old")
    np.testing.assert_array_equal(zoo.load("ae_mnist").reconstruct(x), expected)
    assert (models / "ae_mnist").is_dir() and not (models / ".ae_mnist.old").exists()

    # The same for a folder loaded by its path (a run's output).
    folder = zoo_dirs[0] / "mine"
    _tiny_saved(folder, {"name": "ae_mnist"})
    os.replace(folder, folder.with_name(".mine.old"))
    zoo.load(folder)
    assert folder.is_dir() and not folder.with_name(".mine.old").exists()

    # Killed after both renames, before the old copy was removed: the new folder stays, the old copy goes.
    (models / ".ae_mnist.old").mkdir()
    (models / ".ae_mnist.old" / "card.json").write_text('{"version": "older"}')
    _tiny_saved(models / "ae_mnist", {"name": "ae_mnist", "version": "new"})
    assert zoo.model_card("ae_mnist")["version"] == "new" and not (models / ".ae_mnist.old").exists()


def test_the_two_rename_fallback_swaps_completely(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_exchange", lambda a, b: False)
    folder = tmp_path / "model"
    for version in range(3):
        _write_version(folder, version)
        assert {(folder / n).read_text() for n in ("model.keras", "card.json", "preview.png")} == {str(version)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_an_interrupted_save_keeps_the_old_model_loadable(tmp_path, rng):
    x = rng.random((3, 784), dtype=np.float32)
    folder = tmp_path / "tiny"
    before = _tiny_saved(folder, {"name": "old"}).reconstruct(x)

    def crash(path):
        raise KeyboardInterrupt  # Ctrl-C half way through the new folder

    new = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    with pytest.raises(KeyboardInterrupt):
        registry.save_model(new, folder, card={"name": "new"}, extra_files={"preview.png": crash})
    np.testing.assert_array_equal(zoo.load(folder).reconstruct(x), before)
    assert zoo.model_card(folder) == {"name": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]   # its temporary folder is gone


def test_stale_temporaries_are_cleaned_and_fresh_ones_kept(tmp_path):
    folder = tmp_path / "model"
    stale_dir, stale_file = tmp_path / ".model.tmp-dead1", tmp_path / ".model.json.tmp-dead2"
    fresh = tmp_path / ".model.tmp-alive"           # another process may be writing it right now
    other = tmp_path / ".other.tmp-dead3"            # a temporary of another folder
    for d in (stale_dir, fresh, other):
        d.mkdir()
    stale_file.write_text("{")
    two_hours_ago = time.time() - 2 * 3600
    for p in (stale_dir, stale_file, other):
        os.utime(p, (two_hours_ago, two_hours_ago))
    _write_version(folder, 1)
    # Saving a folder clears that folder's own stale temporaries and leaves everyone else's alone.
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"model", ".model.tmp-alive", ".model.json.tmp-dead2", ".other.tmp-dead3"}
    # clean_stale over a whole folder takes every temporary older than an hour, files and folders alike.
    assert set(io.clean_stale(tmp_path)) == {stale_file, other}
    assert {p.name for p in tmp_path.iterdir()} == {"model", ".model.tmp-alive"}


@pytest.mark.parametrize("mask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_saved_files_get_the_permissions_the_umask_gives(tmp_path, mask, folder_mode, file_mode):
    previous = os.umask(mask)
    try:
        _tiny_saved(tmp_path / "m", {"name": "m"})
        io.write_json_atomic(tmp_path / "alone.json", {})
    finally:
        os.umask(previous)
    assert (tmp_path / "m").stat().st_mode & 0o777 == folder_mode
    for name in ("model.keras", "card.json"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == file_mode, name
    assert (tmp_path / "alone.json").stat().st_mode & 0o777 == file_mode


@needs_mnist
@pytest.mark.slow
def test_a_resume_onto_another_starting_encoder_is_refused(tmp_path, small_data_dir, monkeypatch):
    # A classifier's run names its encoder, not its weights: re-training the encoder between a kill and the resume
    # must not restore the old run's checkpoint onto the new starting point.
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    first, second = (zoo.create_model("ae_mnist", **TINY) for _ in range(2))   # one architecture, two inits
    run = dict(out=tmp_path / "clf", epochs=1, batch_size=256, verbose=0, recipe_changes={"epochs_head": 0})

    def die(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(training, "write_pretrained", die)
        with pytest.raises(KeyboardInterrupt):
            training.train("mnist_classifier", encoder=first, **run)
    with pytest.raises(ZooError, match=r"its model, config or data differ.*--restart"):
        training.train("mnist_classifier", encoder=second, **run)
    _, card, _ = training.train("mnist_classifier", encoder=first, **run)   # the same starting point resumes
    assert card["training"]["epochs"] == 1
