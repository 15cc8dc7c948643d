"""Nothing lost: a killed training run resumes to the same weights, a NaN stops training without touching
the last good backup, and an interrupted save leaves the old model loadable."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import zoo
from zoo.train import AtomicBackupAndRestore, NonFiniteLoss, fit
from conftest import ROOT, needs_mnist

ARGS = ["train", "ae_mnist", "--set", "hidden_units=[32]", "--set", "latent_dim=4", "--epochs", "6",
        "--batch-size", "256", "--deterministic", "--verbose", "2", "--seed", "3"]


def _train(out, kill_after_epochs=None, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "zoo", *ARGS, "--out", str(out)]
    if kill_after_epochs is None:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, p.stderr[-3000:]
        return
    history = out.parent / f".{out.name}.work" / "history.csv"
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if history.exists() and len(history.read_text().splitlines()) > kill_after_epochs:
                break
            if p.poll() is not None:
                pytest.fail("training ended before it could be killed")
            time.sleep(0.05)
        # Part way into the next epoch, with no warning: SIGKILL.
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    assert not (out / "model.keras").exists()


@needs_mnist
def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    _train(tmp_path / "straight")
    _train(tmp_path / "resumed", kill_after_epochs=2)
    _train(tmp_path / "resumed")  # the same command again
    a = zoo.load(tmp_path / "straight").get_weights()
    b = zoo.load(tmp_path / "resumed").get_weights()
    # Deterministic ops, a (seed, epoch)-keyed input order and a restored optimizer state: bit-identical.
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    history = (tmp_path / "resumed" / "card.json").read_text()
    assert json.loads(history)["training"]["epochs"] == 6


class PoisonWeights:
    """Makes the weights NaN at a chosen epoch and step, as a diverging run would."""

    def __new__(cls, epoch, step):
        import keras

        class _Poison(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                self.e = e

            def on_train_batch_begin(self, b, logs=None):
                if self.e == epoch and b == step:
                    # Every weight: a NaN in one kernel alone can vanish behind a ReLU (max(NaN, 0) = 0).
                    for w in self.model.trainable_weights:
                        w.assign(np.full(w.shape, np.nan, np.float32))

        return _Poison()


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_backup(tmp_path, rng):
    x = rng.random((512, 784), dtype=np.float32)
    model = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    splits = {"train": (x, np.zeros(len(x))), "val": (x[:0], np.zeros(0))}
    with pytest.raises(NonFiniteLoss, match=r"at epoch 3, step 2"):
        fit(model, splits, epochs=5, batch_size=128, work_dir=tmp_path, verbose=0,
            extra_callbacks=[PoisonWeights(epoch=2, step=1)])
    backup = tmp_path / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    fresh = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    fresh.load_weights(backup / "latest.weights.h5")
    assert all(np.all(np.isfinite(np.asarray(w))) for w in fresh.weights)


def test_training_data_with_nan_is_refused(rng):
    x = rng.random((64, 784), dtype=np.float32)
    x[3, 5] = np.nan
    model = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    with pytest.raises(zoo.ZooError, match="NaN"):
        fit(model, {"train": (x, np.zeros(64)), "val": (x[:0], np.zeros(0))}, epochs=1, batch_size=16, verbose=0)


def test_a_kill_between_the_backup_renames_recovers_the_old_backup(tmp_path):
    backup = tmp_path / "backup"
    old = tmp_path / "backup.old"
    old.mkdir()
    (old / "training_metadata.json").write_text('{"epoch": 4, "batch": 0}')
    cb = AtomicBackupAndRestore(str(backup))
    model = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    model.save_weights(old / "latest.weights.h5")
    model.compile(optimizer="adam")
    cb.set_model(model)
    cb.on_train_begin()
    assert backup.is_dir() and not old.exists() and model._initial_epoch == 4
