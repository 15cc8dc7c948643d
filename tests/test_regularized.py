"""The regularized kinds of the one Autoencoder class (tied, denoising, sparse, contractive, dropout) on tiny
configs: save/load, penalties wired into training against independent computations, layer-wise
pretraining, the card's extra figures, and the shipped models against their cards."""

import functools
import json
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf
import keras

import zoo
from zoo.families import autoencoder as family
from zoo.families.autoencoder import Autoencoder, pretrain_layerwise
from zoo.layers import (ContractivePenalty, DenseTranspose, KLSparsityRegularizer, L1ActivityRegularizer,
                        NoiseMixture)

NAMES = ("stacked_tied_ae_mnist", "dae_mnist", "sparse_ae_mnist", "cae_mnist")
TINY = {"stacked_tied_ae_mnist": dict(hidden_units=[16], latent_dim=4),
        "dae_mnist": dict(latent_dim=12), "sparse_ae_mnist": dict(latent_dim=12),
        "cae_mnist": dict(latent_dim=12)}
fit = functools.partial(zoo.training.fit, verbose=0)


def images(n=64, seed=0):
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32)


def trained(name, epochs=1, **overrides):
    keras.utils.set_random_seed(0)
    model = zoo.create_model(name, **{**TINY[name], **overrides})
    history = fit(model, (images(),), epochs=epochs, batch_size=32, learning_rate=1e-2, seed=0)
    return model, history


def test_presets_are_one_class_with_their_regularizers():
    assert set(NAMES) <= set(zoo.list_models())
    layer_of = {"dae_mnist": NoiseMixture, "sparse_ae_mnist": KLSparsityRegularizer,
                "cae_mnist": ContractivePenalty, "stacked_tied_ae_mnist": DenseTranspose}
    for name in NAMES:
        model = zoo.create_model(name, **TINY[name])
        assert type(model) is Autoencoder and model.get_config()["tied"]
        layers = model.encoder.layers + model.decoder_logits.layers
        assert any(isinstance(layer, layer_of[name]) for layer in layers), name
        for attr in ("encoder", "decoder", "encode", "decode", "reconstruct", "latent_dim"):
            assert hasattr(model, attr)
    # Each regularizer is in the one preset that asks for it and nowhere else.
    assert [zoo.registry.preset(n)["config"].get("noise") is not None for n in NAMES] == [False, True, False, False]
    l1 = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=4, l1_weight=0.1)
    assert any(isinstance(layer, L1ActivityRegularizer) for layer in l1.encoder.layers)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_save_load_round_trip(name, tmp_path):
    model, _ = trained(name, hidden_dropout=0.2)
    folder = zoo.registry.save_model(model, tmp_path / name, card={"name": name})
    x = images(8, seed=1)
    z = np.random.default_rng(2).normal(size=(3, model.latent_dim)).astype(np.float32)
    for loaded in (zoo.load(folder), keras.saving.load_model(folder / "model.keras")):
        assert type(loaded) is Autoencoder
        assert loaded.get_config() == model.get_config()
        np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
        np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
        np.testing.assert_array_equal(loaded.decode(z), model.decode(z))
        assert loaded.count_params_unique() == model.count_params_unique()
    assert json.loads((folder / "card.json").read_text()) == {"name": name}


def test_saved_file_holds_no_optimizer_state(tmp_path):
    model, _ = trained("sparse_ae_mnist")
    assert model.optimizer.iterations.numpy() > 0
    folder = zoo.registry.save_model(model, tmp_path / "m")
    assert model.optimizer.iterations.numpy() > 0  # the model in memory keeps its optimizer
    with zipfile.ZipFile(folder / "model.keras") as zf:
        zf.extract("model.weights.h5", tmp_path)
    stored = {}
    with h5py.File(tmp_path / "model.weights.h5") as f:
        if "optimizer" in f:
            f["optimizer"].visititems(lambda n, o: stored.update({n: o[()]}) if isinstance(o, h5py.Dataset) else None)
    # At most a fresh optimizer's scalars (step count 0, learning rate): no Adam moments.
    assert len(stored) <= 2 and all(np.ndim(v) == 0 for v in stored.values()), stored
    assert not stored or min(float(v) for v in stored.values()) == 0


@pytest.mark.parametrize("name,penalty_positive", [("sparse_ae_mnist", True), ("cae_mnist", True),
                                                   ("dae_mnist", False)])
def test_penalties_enter_the_training_loss(name, penalty_positive):
    _, history = trained(name)
    assert (history["penalty"][-1] > 0) == penalty_positive


def test_contractive_penalty_is_the_encoders_exact_jacobian_norm():
    """The penalty added in training is weight * mean ||d code / d x||_F^2, where the Jacobian is taken by
    autodiff through the test-time encoder (the closed form is what the layer uses)."""
    keras.utils.set_random_seed(0)
    model = zoo.create_model("cae_mnist", latent_dim=12, contractive_weight=0.3)
    x = tf.constant(images(16))
    with tf.GradientTape() as tape:
        tape.watch(x)
        code = model.encoder(x, training=False)["code"]
    jac = tape.batch_jacobian(code, x).numpy().astype(np.float64)   # (16, 12, 784)
    per_image = np.sum(jac ** 2, axis=(1, 2))
    model.encoder(x, training=True)
    assert len(model.encoder.losses) == 1
    np.testing.assert_allclose(float(model.encoder.losses[0]), 0.3 * per_image.mean(), rtol=1e-4)
    np.testing.assert_allclose(model.jacobian_norms(x.numpy()), np.sqrt(per_image), rtol=1e-4)


def test_sparsity_penalty_matches_numpy():
    keras.utils.set_random_seed(0)
    model = zoo.create_model("sparse_ae_mnist", latent_dim=12, sparsity_target=0.1, sparsity_weight=0.7)
    x = images(32)
    rho = np.clip(model.encode(x).astype(np.float64).mean(axis=0), 1e-6, 1 - 1e-6)
    kl = np.sum(0.1 * np.log(0.1 / rho) + 0.9 * np.log(0.9 / (1 - rho)))
    model.encoder(x, training=True)  # last: each call of the encoder starts its list of losses afresh
    assert len(model.encoder.losses) == 1
    np.testing.assert_allclose(float(model.encoder.losses[0]), 0.7 * kl, rtol=1e-4)


def test_noise_and_dropout_act_only_when_training():
    model = zoo.create_model("dae_mnist", **TINY["dae_mnist"], hidden_dropout=0.5)
    x = images(16)
    np.testing.assert_array_equal(np.asarray(model.encoder(x, training=False)["code"]), model.encode(x))
    assert not np.allclose(np.asarray(model.encoder(x, training=True)["code"]), model.encode(x))
    assert [layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Dropout)]
    # reconstruct is the clean test-time path, recomputed here from the tied kernel by hand.
    enc = model.encoder_layers[0]
    h = 1 / (1 + np.exp(-(x @ np.asarray(enc.kernel) + np.asarray(enc.bias))))
    dec = model.decoder_logits.get_layer("logits")
    expected = 1 / (1 + np.exp(-(h @ np.asarray(enc.kernel).T + np.asarray(dec.bias))))
    np.testing.assert_allclose(model.reconstruct(x), expected, rtol=1e-4, atol=1e-6)


def test_each_training_image_gets_one_corruption_in_the_mix():
    """The denoiser's corruption layer draws one of its (kind, level) pairs per image: with masking 0.5 and
    salt-and-pepper 0.5, each corrupted image is either masked only or salted/peppered."""
    model = zoo.create_model("dae_mnist", latent_dim=12, noise=[["masking", 0.5], ["salt_and_pepper", 0.5]])
    x = images(400) * 0.8 + 0.1
    out = np.asarray(model.encoder.get_layer("corruption")(x, training=True))
    masked_only = np.all((out == x) | (out == 0), axis=1)
    salted = np.any(out == 1.0, axis=1)
    assert np.all(masked_only ^ salted)
    assert abs(masked_only.mean() - 0.5) < 5 * np.sqrt(0.25 / len(x))


def test_reconstruct_rows_accepts_noisy_inputs_outside_the_unit_range():
    model = zoo.create_model("dae_mnist", **TINY["dae_mnist"])
    noisy = images(4) + np.random.default_rng(0).normal(0, 0.5, (4, 784)).astype(np.float32)
    assert noisy.min() < 0 and noisy.max() > 1
    out = model.reconstruct_rows(noisy)
    assert out.shape == (4, 784) and np.all((out >= 0) & (out <= 1))
    np.testing.assert_array_equal(out, np.asarray(model.decoder(model.encoder(noisy)["code"])))
    with pytest.raises(zoo.ZooError, match="NaN"):
        model.reconstruct_rows(np.full((1, 784), np.nan, np.float32))


def test_untied_option_parameter_counts_and_card_figures():
    tied = zoo.create_model("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"])
    untied = zoo.create_model("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"], tied=False)
    assert not any(isinstance(layer, DenseTranspose) for layer in untied.decoder_logits.layers)
    kernels = 784 * 16 + 16 * 4
    assert tied.count_params_unique() == kernels + (16 + 4) + (16 + 784)
    assert untied.count_params_unique() == 2 * kernels + (16 + 4) + (16 + 784)
    x = images(50)
    fake = {"train": (x, np.zeros(50)), "val": (x[:0], np.zeros(0)), "test": (x[:20], np.zeros(20))}
    figures = family.card_metrics(tied, fake)
    assert figures["tied_weights"] == {"parameters": tied.count_params_unique(),
                                       "untied_equivalent_parameters": untied.count_params_unique()}
    assert "tied_weights" not in family.card_metrics(untied, fake)


@pytest.mark.slow
def test_pretrain_layerwise_trains_the_stack_in_place():
    keras.utils.set_random_seed(0)
    model = zoo.create_model("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"])
    before = [np.asarray(layer.kernel).copy() for layer in model.encoder_layers]
    x = images(128)
    summary = pretrain_layerwise(model, x, 2, fit, batch_size=32, learning_rate=1e-2)
    assert [s["layer"] for s in summary] == ["enc_0", "code"]
    assert [s["input_dim"] for s in summary] == [784, 16]
    assert [s["loss"] for s in summary] == ["bce", "mse"]
    for b, layer in zip(before, model.encoder_layers):
        assert not np.allclose(b, np.asarray(layer.kernel))
    # Still tied, still one kernel per layer.
    decs = [layer for layer in model.decoder_logits.layers if isinstance(layer, DenseTranspose)]
    for enc, dec in zip(model.encoder_layers, reversed(decs)):
        assert dec.dense is enc
        np.testing.assert_array_equal(np.asarray(dec.kernel), np.asarray(enc.kernel).T)


def test_pretraining_lowers_the_first_pairs_reconstruction_error():
    keras.utils.set_random_seed(0)
    model = zoo.create_model("stacked_tied_ae_mnist", hidden_units=[], latent_dim=16, latent_activation="sigmoid")
    # Four binary prototypes, repeated: data a 16-unit autoencoder can learn in a few epochs.
    prototypes = (images(4, seed=3) > 0.7).astype(np.float32)
    x = np.repeat(prototypes, 64, axis=0)

    def pair_error():
        enc, dec = model.encoder_layers[0], model.decoder_logits.layers[-1]
        rec = 1 / (1 + np.exp(-np.asarray(dec(enc(x)))))
        return float(np.mean(np.sum((rec - x) ** 2, axis=1)))

    start = pair_error()
    pretrain_layerwise(model, x, 5, fit, batch_size=32, learning_rate=1e-2)
    assert pair_error() < 0.8 * start


def test_bad_config_values_are_refused():
    with pytest.raises(zoo.ZooError, match="speckle"):
        zoo.create_model("dae_mnist", noise=[["speckle", 0.1]])
    with pytest.raises(zoo.ZooError, match="hidden_dropout"):
        zoo.create_model("cae_mnist", hidden_dropout=1.0)
    with pytest.raises(zoo.ZooError, match="unknown config keys.*dropout"):
        zoo.create_model("cae_mnist", dropout=0.1)
    with pytest.raises(zoo.ZooError, match=r"target must lie in \(0, 1\)"):
        zoo.create_model("sparse_ae_mnist", sparsity_target=1.0)
    with pytest.raises(zoo.ZooError, match="loss"):
        zoo.create_model("ae_mnist", loss="bce", output_activation=None)


# -- shipped models ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def test_split():
    try:
        return zoo.data.splits("mnist")["test"]
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_reproduces_its_card(name, test_split):
    folder = zoo.registry.saved_models_dir() / name
    if not (folder / "model.keras").is_file():
        pytest.skip(f"{name} is not shipped")
    x, y = test_split
    model, card = zoo.load(name), zoo.model_card(name)
    assert (folder / "model.keras").stat().st_size < 6 * 2 ** 20
    assert card["parameters"] == model.count_params_unique() == Autoencoder.parameter_count(model.get_config())
    assert card["config"] == {k: v for k, v in model.get_config().items() if k != "trainable"}
    measured = model.test_metrics(x, y)["squared_error_per_image"]
    assert measured == pytest.approx(card["metrics"]["squared_error_per_image"], abs=1e-3)
    if "sparsity" in card:
        again = family.activation_figures(model.encode(x))
        assert again == {k: v for k, v in card["sparsity"].items() if k != "split"}
    if "denoising" in card:
        # The denoised error under gaussian 0.5 noise, redrawn with the card's seed (1001).
        noisy = family.corrupt(x, "gaussian", 0.5, 1001)
        se = np.sum((model.reconstruct_rows(noisy).astype(np.float64) - x) ** 2, axis=1).mean()
        expected = card["denoising"]["results"]["gaussian_0.5"]["denoised"]["squared_error_per_image"]
        assert se == pytest.approx(expected, rel=0.01)
        assert expected < 0.1 * card["denoising"]["results"]["gaussian_0.5"]["noisy_input"]["squared_error_per_image"]


@pytest.mark.slow
def test_train_stacked_writes_a_folder_with_layerwise_pretraining(tmp_path):
    try:
        zoo.data.load("mnist")
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")
    out = tmp_path / "stacked"
    model, card, folder = zoo.training.train(
        "stacked_tied_ae_mnist", out=out, epochs=1, batch_size=512, verbose=0,
        recipe_changes={"layerwise_pretrain_epochs": 1}, hidden_units=[16], latent_dim=4)
    assert folder == out
    assert {"model.keras", "card.json", "preview.png"} <= {p.name for p in out.iterdir()}
    assert not (tmp_path / ".stacked.work").exists()  # the backup goes once the folder is written
    assert [layer["layer"] for layer in card["layerwise_pretraining"]] == ["enc_0", "code"]
    assert card["training"]["layerwise_pretrain_epochs"] == 1 and card["training"]["epochs_run"] == 1
    assert card["tied_weights"]["untied_equivalent_parameters"] > card["tied_weights"]["parameters"]
    assert json.loads((out / "card.json").read_text())["metrics"] == card["metrics"]
    loaded = zoo.load(out)
    x = images(4)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
