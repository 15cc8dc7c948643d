"""The training tricks a user expects, each a flag: learning-rate schedule, early stopping on the
validation loss (a VAE's validation negative ELBO), KL warm-up and free bits."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo.errors import ZooError
from zoo.train import fit
from conftest import ROOT, needs_mnist


def _splits(rng, n=256):
    x = (rng.random((n, 784)) < 0.3).astype(np.float32)
    return {"train": (x, np.zeros(n)), "val": (x[:64], np.zeros(64))}


def test_cosine_schedule_decays_the_rate_to_zero(rng):
    m = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    fit(m, _splits(rng), epochs=2, batch_size=64, learning_rate=1e-2, verbose=0, lr_schedule="cosine")
    assert float(m.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-6)
    m2 = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    fit(m2, _splits(rng), epochs=2, batch_size=64, learning_rate=1e-2, verbose=0)
    assert float(m2.optimizer.learning_rate) == pytest.approx(1e-2)


def test_early_stopping_stops_when_validation_loss_stalls(rng):
    # A deterministic autoencoder with a zero learning rate never improves: patience 1 ends the run after
    # two epochs of ten, and the weights kept are the best (here: the initial) ones.
    m = zoo.build("ae_mnist", hidden_units=[16], latent_dim=2)
    before = [np.asarray(w).copy() for w in m.weights]
    history = fit(m, _splits(rng), epochs=10, batch_size=64, learning_rate=0.0, verbose=0, early_stopping=1)
    assert len(history.history["val_loss"]) == 2
    for a, b in zip(before, m.weights):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_a_vae_stops_on_its_validation_negative_elbo(rng):
    m = zoo.build("vae_mnist", hidden_units=[16], latent_dim=2)
    history = fit(m, _splits(rng), epochs=2, batch_size=64, verbose=0, early_stopping=5)
    h = history.history
    # val_loss, what early stopping monitors, is the validation negative ELBO: reconstruction plus KL.
    np.testing.assert_allclose(h["val_loss"], np.add(h["val_reconstruction"], h["val_kl"]), rtol=1e-5)


def test_bad_training_options_are_refused(rng):
    m = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    with pytest.raises(ZooError, match="unknown lr_schedule 'step'"):
        fit(m, _splits(rng), epochs=1, batch_size=64, verbose=0, lr_schedule="step")
    with pytest.raises(ZooError, match="early_stopping must be a positive integer"):
        fit(m, _splits(rng), epochs=1, batch_size=64, verbose=0, early_stopping=0)
    s = _splits(rng)
    s["val"] = (s["val"][0][:0], np.zeros(0))
    with pytest.raises(ZooError, match="needs a validation split"):
        fit(m, s, epochs=1, batch_size=64, verbose=0, early_stopping=2)


@needs_mnist
def test_cli_flags_reach_the_model_and_the_card(tmp_path):
    out = tmp_path / "vae"
    p = subprocess.run([sys.executable, "-m", "zoo", "train", "vae_mnist", "--epochs", "2", "--batch-size", "512",
                        "--set", "hidden_units=[32]", "--set", "latent_dim=4", "--lr-schedule", "cosine",
                        "--early-stopping", "3", "--kl-warmup-epochs", "1", "--free-bits", "0.25", "--verbose", "0",
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert p.returncode == 0, p.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["lr_schedule"] == "cosine" and card["training"]["early_stopping"] == 3
    assert card["config"]["kl_warmup_epochs"] == 1 and card["config"]["free_bits"] == 0.25
    assert "nll_iwae" in card["metrics"]
