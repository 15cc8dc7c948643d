"""The training options a user expects, each checked against what it promises: a cosine schedule, early stopping
on the validation loss (a VAE's validation negative ELBO) that keeps the best weights, KL warm-up, seeded runs,
and the CLI flags reaching the model and its card."""

import json
import math
import types

import keras
import numpy as np
import pytest

import zoo
from zoo import training
from zoo.cli import main
from conftest import needs_mnist


def _images(rng, n=256):
    return (rng.random((n, 784)) < 0.3).astype(np.float32)


class Record(keras.callbacks.Callback):
    """What the optimizer and the model hold after every batch and every epoch."""

    def __init__(self):
        super().__init__()
        self.rates, self.betas, self.epoch_weights = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch, logs=None):
        if hasattr(self.model, "kl_beta"):
            self.betas.append(float(self.model.kl_beta))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_weights.append(self.model.get_weights())


@pytest.mark.slow
def test_the_cosine_schedule_follows_its_formula_down_to_zero(rng):
    m = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    rec = Record()
    training.fit(m, _images(rng), epochs=2, batch_size=64, learning_rate=1e-2, verbose=0, lr_schedule="cosine",
                 callbacks=[rec])
    total = 2 * 256 // 64
    expected = [0.5 * 1e-2 * (1 + math.cos(math.pi * k / total)) for k in range(total)]
    np.testing.assert_allclose(rec.rates, expected, rtol=1e-5, atol=1e-9)
    assert float(m.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)

    constant = Record()
    training.fit(zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2), _images(rng), epochs=2, batch_size=64,
                 learning_rate=1e-2, verbose=0, callbacks=[constant])
    assert constant.rates == pytest.approx([1e-2] * total)


@pytest.mark.slow
def test_early_stopping_stops_when_the_validation_loss_rises_and_keeps_the_best_weights():
    # Trained on blank images and validated on full ones: the better the model copies blanks, the worse its
    # validation loss, so the best epoch is the first, and patience 1 ends the run after the second.
    x_train, x_val = np.zeros((256, 784), np.float32), np.ones((64, 784), np.float32)
    m = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    rec = Record()
    history = training.fit(m, x_train, x_val, epochs=10, batch_size=64, learning_rate=1e-2, verbose=0,
                           early_stopping=1, callbacks=[rec])
    assert len(history["val_loss"]) == 2 and history["val_loss"][1] > history["val_loss"][0]
    for best, final in zip(rec.epoch_weights[0], m.get_weights()):
        assert np.array_equal(best, final)
    assert not all(np.array_equal(a, b) for a, b in zip(rec.epoch_weights[1], m.get_weights()))


@pytest.mark.slow
def test_a_vae_monitors_its_validation_negative_elbo(rng):
    m = zoo.create_model("vae_mnist", hidden_units=[16], latent_dim=2)
    x = _images(rng)
    h = training.fit(m, x, x[:64], epochs=2, batch_size=64, verbose=0, early_stopping=5)
    # val_loss, what early stopping monitors, is the validation negative ELBO: reconstruction plus KL (rounded
    # to 6 decimals in the history), and the training loss is the true negative ELBO too.
    np.testing.assert_allclose(h["val_loss"], np.add(h["val_reconstruction"], h["val_kl"]), rtol=1e-5)
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction"], h["kl"]), rtol=1e-5)


@pytest.mark.slow
def test_kl_warmup_ramps_beta_linearly_over_its_epochs(rng):
    m = zoo.create_model("vae_mnist", hidden_units=[16], latent_dim=2, kl_warmup_epochs=2)
    rec = Record()
    training.fit(m, _images(rng), epochs=3, batch_size=64, verbose=0, callbacks=[rec])
    steps = 256 // 64
    expected = [min(1.0, (e + b / steps) / 2) for e in range(3) for b in range(steps)]
    np.testing.assert_allclose(rec.betas, expected, rtol=1e-6)
    assert float(m.kl_beta) == 1.0   # evaluation and sampling use the true ELBO


@pytest.mark.slow
def test_the_same_seed_trains_the_same_weights_and_another_seed_other_weights(rng):
    x = _images(rng)

    def run(seed):
        keras.utils.set_random_seed(0)   # the same initial weights; `seed` keys the input order
        m = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
        training.fit(m, x, epochs=2, batch_size=32, seed=seed, verbose=0)
        return m.get_weights()

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


@needs_mnist
@pytest.mark.slow
def test_cli_flags_reach_the_model_and_the_card(zoo_dirs, small_data_dir, monkeypatch, capsys):
    runs, _ = zoo_dirs
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    assert main(["train", "vae_mnist", "--epochs", "2", "--batch-size", "256", "--learning-rate", "0.002",
                 "--seed", "7", "--set", "hidden_units=[16]", "--set", "latent_dim=2", "--lr-schedule", "cosine",
                 "--early-stopping", "3", "--set", "kl_warmup_epochs=1", "--set", "free_bits=0.25",
                 "--set", "importance_samples=1", "--validation", "1000", "--verbose", "0"]) == 0
    card = json.loads((runs / "vae_mnist" / "card.json").read_text())
    t = card["training"]
    assert (t["lr_schedule"], t["early_stopping"], t["learning_rate"], t["seed"], t["batch_size"], t["epochs"]) == \
        ("cosine", 3, 0.002, 7, 256, 2)
    assert sorted(t["user_set"]) == sorted(["batch_size", "early_stopping", "epochs", "learning_rate", "lr_schedule",
                                            "seed", "validation"])
    # vae_mnist's preset holds nothing out; --validation 1000 carves 1,000 of the 4,000 images, and the card says so
    assert t["validation"] == 1000 and (card["data"]["train_examples"], card["data"]["val_examples"]) == (3000, 1000)
    assert "(3,000 for training, 1,000 held out for validation with seed 7)" in card["data"]["note"]
    assert card["config"]["kl_warmup_epochs"] == 1 and card["config"]["free_bits"] == 0.25
    assert card["config"]["hidden_units"] == [16] and zoo.load(runs / "vae_mnist").free_bits == 0.25
    assert card["data"]["test_examples"] == 200 and card["metrics"]["num_samples"] == 1000


class _NoSave:
    def save(self):
        pass


def test_an_epoch_redone_after_a_kill_replaces_its_history_entry_rather_than_adding_one(tmp_path):
    # A SIGKILL can land after the epoch's history is written but before its checkpoint: the resumed run
    # redoes that epoch, and the history must still hold one entry per epoch.
    import tensorflow as tf

    path = tmp_path / "history.json"
    first = training.PhaseCheckpoint(_NoSave(), tf.Variable(0, dtype=tf.int64), path)
    for epoch, loss in ((0, 3.0), (1, 2.0)):
        first.on_epoch_begin(epoch)
        first.on_epoch_end(epoch, {"loss": loss})
    resumed = training.PhaseCheckpoint(_NoSave(), tf.Variable(1, dtype=tf.int64), path)
    resumed.on_epoch_begin(1)
    resumed.on_epoch_end(1, {"loss": 1.5})
    resumed.on_epoch_begin(2)
    resumed.on_epoch_end(2, {"loss": 1.0})
    assert json.loads(path.read_text()) == {"loss": [3.0, 1.5, 1.0]}


class _Saves:
    """A CheckpointManager stand-in that records the epoch each save holds."""

    def __init__(self, epoch):
        self.epoch, self.saved = epoch, []

    def save(self):
        self.saved.append(int(self.epoch.numpy()))


def _phase(callback, epochs, clock, seconds_per_epoch, stop_at=None, ended_at=None):
    """Runs a callback through a phase of `epochs` epochs as fit would, the clock moving seconds_per_epoch per epoch:
    up to the epoch stop_at, where the model is told to stop, or to ended_at, after which fit ends without a
    stop_training the callback saw."""
    model = types.SimpleNamespace(stop_training=False)
    callback.set_params({"epochs": epochs})
    callback.set_model(model)
    for epoch in range(epochs if ended_at is None else ended_at + 1):
        callback.on_epoch_begin(epoch)
        clock[0] += seconds_per_epoch
        model.stop_training = epoch == stop_at
        callback.on_epoch_end(epoch, {"loss": 10.0 - epoch})
        if model.stop_training:
            break


def test_checkpoints_and_previews_come_after_the_first_epoch_then_every_interval_and_at_the_phase_end(tmp_path):
    import tensorflow as tf

    clock = [0.0]

    def phase_checkpoint(name):
        epoch = tf.Variable(0, dtype=tf.int64)
        callback = training.PhaseCheckpoint(_Saves(epoch), epoch, tmp_path / name / "history.json", every_seconds=30)
        (tmp_path / name).mkdir()
        callback.cadence.clock = lambda: clock[0]
        return callback

    # 10 epochs of 7 s: the first epoch, the first one 30 s after it (epoch 6, at 42 s), and the last
    cb = phase_checkpoint("plain")
    _phase(cb, 10, clock, 7.0)
    assert cb.manager.saved == [1, 6, 10]
    # every epoch's history is written, saved or not: a resume from epoch 6 redoes and replaces 7 to 9's entries
    assert json.loads((tmp_path / "plain" / "history.json").read_text()) == {"loss": [10.0 - e for e in range(10)]}
    # an early stop is the phase's end
    cb = phase_checkpoint("stopped")
    _phase(cb, 10, clock, 1.0, stop_at=3)
    assert cb.manager.saved == [1, 4]
    # a phase stopped by a callback that runs after the checkpoint's: its last epoch is saved when fit ends
    cb = phase_checkpoint("ended")
    _phase(cb, 10, clock, 1.0, ended_at=2)
    assert cb.manager.saved == [1]
    cb.on_train_end()
    assert cb.manager.saved == [1, 3]
    # 0 seconds: every epoch, as a direct user of PhaseCheckpoint gets by default
    cb = phase_checkpoint("every")
    cb.cadence.seconds = 0.0
    _phase(cb, 4, clock, 1.0)
    assert cb.manager.saved == [1, 2, 3, 4]
    # the preview follows the same rule
    drawn = []
    preview = training.PreviewDuringTraining(lambda model: drawn.append(clock[0]), tmp_path / "preview.png", 30)
    preview.cadence.clock = lambda: clock[0]
    start = clock[0]
    _phase(preview, 10, clock, 7.0)
    assert [round((t - start) / 7) - 1 for t in drawn] == [0, 5, 9] and not (tmp_path / "preview.png").exists()


class _Steps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


class _Killed(Exception):
    pass


class _KillAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:      # before the checkpoint callback sees the epoch: as a SIGKILL during it
            raise _Killed()


@pytest.mark.slow
def test_a_run_killed_epochs_after_its_last_checkpoint_redoes_them_bit_for_bit(tmp_path, rng, monkeypatch):
    # An hour between checkpoints: only the first epoch's is written before the kill at the end of epoch 4, so the
    # resume restores epoch 1 and redoes epochs 2 to 4, dropout's random numbers included.
    monkeypatch.setattr(training, "CHECKPOINT_SECONDS", 3600.0)
    x = _images(rng, 64)
    args = dict(epochs=5, batch_size=32, seed=2, verbose=0)
    config = dict(hidden_units=[16], latent_dim=2, hidden_dropout=0.3)

    def model():
        keras.utils.set_random_seed(0)
        return zoo.create_model("ae_mnist", **config)
    straight = model()
    want = training.fit(straight, x, work_dir=tmp_path / "a", **args)
    with pytest.raises(_Killed):
        training.fit(model(), x, work_dir=tmp_path / "b", callbacks=[_KillAtEpochEnd(3)], **args)
    assert len(json.loads((tmp_path / "b" / "main" / "history.json").read_text())["loss"]) == 3
    resumed, steps = model(), _Steps()
    got = training.fit(resumed, x, work_dir=tmp_path / "b", callbacks=[steps], **args)
    assert steps.count == 4 * 2      # epochs 2 to 5 trained again here, 2 steps each
    assert got == want and len(got["loss"]) == 5
    for a, b in zip(straight.variables, resumed.variables):
        assert np.array_equal(np.asarray(a), np.asarray(b)), a.path
