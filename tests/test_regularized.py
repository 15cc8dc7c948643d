"""zoo.models.regularized and zoo.pretrain on tiny configs: save/load, regularizers wired in, pretraining."""

import numpy as np
import pytest
import keras

import zoo
from zoo.layers import DenseTranspose
from zoo.pretrain import pretrain_layerwise
from zoo.models.regularized import (ContractiveAutoencoder, DenoisingAutoencoder, RegularizedAutoencoder,
                                    SparseAutoencoder, StackedTiedAutoencoder, relative_error)

NAMES = ("stacked_tied_ae_mnist", "dae_mnist", "sparse_ae_mnist", "cae_mnist")
TINY = {"stacked_tied_ae_mnist": dict(hidden_units=[16], latent_dim=4),
        "dae_mnist": dict(latent_dim=12), "sparse_ae_mnist": dict(latent_dim=12),
        "cae_mnist": dict(latent_dim=12)}


def images(n=64, seed=0):
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32)


def trained(name, epochs=1, **overrides):
    keras.utils.set_random_seed(0)
    model = zoo.build(name, **{**TINY[name], **overrides})
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(images(), epochs=epochs, batch_size=32, verbose=0)
    return model, history


def test_presets_are_registered_with_their_classes():
    assert set(NAMES) <= set(zoo.list_models())
    expected = (StackedTiedAutoencoder, DenoisingAutoencoder, SparseAutoencoder, ContractiveAutoencoder)
    for name, cls in zip(NAMES, expected):
        model = zoo.build(name, **TINY[name])
        assert type(model) is cls and isinstance(model, RegularizedAutoencoder)
        for attr in ("encoder", "decoder", "encode", "decode", "reconstruct", "latent_dim"):
            assert hasattr(model, attr)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name, tmp_path):
    model, _ = trained(name, hidden_dropout=0.2)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = zoo.registry.load_model_file(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    x = images(8, seed=1)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    z = np.random.default_rng(2).normal(size=(3, model.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decode(z), model.decode(z))


def test_saved_file_holds_no_optimizer_state(tmp_path):
    model, _ = trained("sparse_ae_mnist")
    model.save(tmp_path / "m.keras")
    assert model.optimizer is not None  # restored after the save
    import zipfile

    import h5py

    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        zf.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as f:
        assert "optimizer" not in f


@pytest.mark.parametrize("name,penalty_positive", [("sparse_ae_mnist", True), ("cae_mnist", True),
                                                   ("dae_mnist", False)])
def test_penalties_enter_the_training_loss(name, penalty_positive):
    _, history = trained(name)
    assert (history.history["penalty"][-1] > 0) == penalty_positive


def test_noise_and_dropout_act_only_when_training():
    model = zoo.build("dae_mnist", **TINY["dae_mnist"], hidden_dropout=0.5)
    x = images(16)
    np.testing.assert_array_equal(np.asarray(model.encoder(x, training=False)), model.encode(x))
    assert not np.allclose(np.asarray(model.encoder(x, training=True)), model.encode(x))
    assert [l for l in model.encoder.layers if isinstance(l, keras.layers.Dropout)]


def test_denoise_accepts_inputs_outside_the_unit_range():
    model = zoo.build("dae_mnist", **TINY["dae_mnist"])
    noisy = images(4) + np.random.default_rng(0).normal(0, 0.5, (4, 784)).astype(np.float32)
    out = model.denoise(noisy)
    assert out.shape == (4, 784) and np.all((out >= 0) & (out <= 1))


def test_untied_option_and_parameter_counts():
    tied = zoo.build("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"])
    untied = zoo.build("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"], tied=False)
    assert not any(isinstance(l, DenseTranspose) for l in untied.decoder_logits.layers)
    kernels = 784 * 16 + 16 * 4
    assert tied.count_params_unique() == kernels + (16 + 4) + (16 + 784)
    assert untied.count_params_unique() == 2 * kernels + (16 + 4) + (16 + 784)
    extras = tied.card_extras(None)["tied_weights"]
    assert extras == {"parameters": tied.count_params_unique(),
                      "untied_equivalent_parameters": untied.count_params_unique()}


def test_pretrain_layerwise_trains_the_stack_in_place():
    from zoo.train import pretrain_layerwise as exposed

    assert exposed is pretrain_layerwise

    keras.utils.set_random_seed(0)
    model = zoo.build("stacked_tied_ae_mnist", **TINY["stacked_tied_ae_mnist"])
    before = [np.asarray(l.kernel).copy() for l in model.encoder_layers]
    x = images(128)
    summary = pretrain_layerwise(model, x, epochs_per_layer=2, batch_size=32, learning_rate=1e-2)
    assert [s["layer"] for s in summary] == ["enc_0", "code"]
    assert [s["input_dim"] for s in summary] == [784, 16]
    for b, layer in zip(before, model.encoder_layers):
        assert not np.allclose(b, np.asarray(layer.kernel))
    # Still tied, still one kernel per layer.
    decs = [l for l in model.decoder_logits.layers if isinstance(l, DenseTranspose)]
    for enc, dec in zip(model.encoder_layers, reversed(decs)):
        np.testing.assert_array_equal(np.asarray(dec.kernel), np.asarray(enc.kernel).T)


def test_pretraining_lowers_the_first_pairs_reconstruction_error():
    keras.utils.set_random_seed(0)
    model = zoo.build("stacked_tied_ae_mnist", hidden_units=[], latent_dim=16, latent_activation="sigmoid")
    # Four binary prototypes, repeated: data a 16-unit autoencoder can learn in a few epochs.
    prototypes = (images(4, seed=3) > 0.7).astype(np.float32)
    x = np.repeat(prototypes, 64, axis=0)

    def pair_error():
        enc, dec = model.encoder_layers[0], model.decoder_logits.layers[-1]
        rec = 1 / (1 + np.exp(-np.asarray(dec(enc(x)))))
        return float(np.mean(np.sum((rec - x) ** 2, axis=1)))

    start = pair_error()
    pretrain_layerwise(model, x, epochs_per_layer=5, batch_size=32, learning_rate=1e-2)
    assert pair_error() < 0.8 * start


def test_relative_error_is_zero_for_a_copy_and_one_for_the_mean():
    x = images(5)
    assert relative_error(x, x) == 0
    np.testing.assert_allclose(relative_error(np.repeat(x.mean(1, keepdims=True), 784, 1), x), 1.0, rtol=1e-6)


def test_bad_config_values_are_refused():
    with pytest.raises(ValueError):
        zoo.build("dae_mnist", noise=[["speckle", 0.1]])
    with pytest.raises(ValueError):
        zoo.build("cae_mnist", hidden_dropout=1.0)
    with pytest.raises(zoo.ZooError):
        zoo.build("cae_mnist", dropout=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_reproduces_its_card(name):
    folder = zoo.registry.saved_models_dir() / name
    if not (folder / "model.keras").is_file():
        pytest.skip(f"{name} is not shipped")
    from zoo import data as zdata

    try:
        x, y = zdata.mnist_splits()["test"]
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")
    model, card = zoo.load(name), zoo.model_card(name)
    assert (folder / "model.keras").stat().st_size < 6 * 2 ** 20
    assert card["parameters"] == model.count_params_unique()
    measured = model.test_metrics(x, y)["squared_error_per_image"]
    assert measured == pytest.approx(card["metrics"]["squared_error_per_image"], abs=1e-3)


def test_train_stacked_writes_a_folder_with_the_comparison(tmp_path):
    from zoo.pretrain import train_stacked

    try:
        zoo.data.load("mnist")
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")
    out = tmp_path / "stacked"
    model, card = train_stacked(out=out, epochs=1, layerwise_pretrain_epochs=1, batch_size=512, verbose=0,
                                hidden_units=[16], latent_dim=4)
    assert {"model.keras", "card.json", "preview.png"} <= {p.name for p in out.iterdir()}
    comparison = card["layerwise_pretraining"]
    assert comparison["without_pretraining"]["epochs"] == 2 * 1 + 1
    assert [l["layer"] for l in comparison["with_pretraining"]["layers"]] == ["enc_0", "code"]
    assert card["tied_weights"]["untied_equivalent_parameters"] > card["tied_weights"]["parameters"]
    loaded = zoo.load(out)
    x = model.reconstruct(np.zeros((2, 784), np.float32))
    np.testing.assert_array_equal(loaded.reconstruct(np.zeros((2, 784), np.float32)), x)
    with pytest.raises(zoo.ZooError):
        train_stacked(out=out, epochs=1, strategy="mirrored")
