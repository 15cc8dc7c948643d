"""Names, presets, pretrained folders and the safe loader: zoo.load reads only what the zoo saved, bounded in size
before anything is allocated, and a save/load round trip is exact."""

import json
import resource
import time
import zipfile

import keras
import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.errors import ZooError

TINY = {"hidden_units": [8], "latent_dim": 2}


# -- names ----------------------------------------------------------------------------------------------------
def test_list_models_filters_by_pattern():
    names = zoo.list_models()
    assert names == sorted(names) and len(names) == len(set(names))
    assert {"ae_mnist", "linear_ae_mnist", "vae_mnist", "cvae_mnist", "mnist_classifier"} <= set(names)
    assert zoo.list_models("linear*") == ["linear_ae_mnist"]
    assert zoo.list_models("*vae*") == ["cvae_mnist", "vae2d_mnist", "vae_mnist"]
    assert zoo.list_models("nothing*") == []


@pytest.mark.parametrize("call", [zoo.create_model, zoo.load, zoo.model_card, registry.family],
                         ids=["create_model", "load", "model_card", "family"])
def test_an_unknown_name_lists_the_close_ones(call):
    with pytest.raises(ZooError, match=r"unknown model 'ae_mnst'; did you mean ae_mnist\b.*\(known: ae_mnist, "):
        call("ae_mnst")


def test_create_model_applies_overrides_and_refuses_unknown_keys():
    m = zoo.create_model("ae_mnist", **TINY)
    assert m.latent_dim == 2 and m.encode(np.zeros((3, 784), np.float32)).shape == (3, 2)
    assert m.get_config()["hidden_units"] == [8] and m.name == "ae_mnist"
    with pytest.raises(ZooError, match=r"ae_mnist: unknown config keys \['latent'\]; expected some of"):
        zoo.create_model("ae_mnist", latent=3)
    with pytest.raises(ZooError, match="overrides need pretrained=False"):
        zoo.create_model("ae_mnist", pretrained=True, latent_dim=3)
    assert zoo.build is zoo.create_model


def test_from_preset_checks_the_class():
    model = zoo.Autoencoder.from_preset("ae_mnist")
    assert type(model) is zoo.Autoencoder and model.name == "ae_mnist"
    with pytest.raises(ZooError, match="ae_mnist is a Autoencoder, not a VAE"):
        zoo.VAE.from_preset("ae_mnist")


def test_missing_folder_file_and_weights(tmp_path, monkeypatch):
    with pytest.raises(ZooError, match="does not exist"):
        zoo.load(str(tmp_path / "nope" / "model.keras"))
    with pytest.raises(ZooError, match="neither a folder holding model.keras nor a .keras file"):
        zoo.load(str(tmp_path / "nope"))
    monkeypatch.setenv("ZOO_MODELS_DIR", str(tmp_path))
    with pytest.raises(ZooError, match=r"no pretrained weights for 'ae_mnist' at .*; train them with: zoo train ae_mnist"):
        zoo.load("ae_mnist")


# -- round trips ------------------------------------------------------------------------------------------------
def _classifier():
    return zoo.create_model("mnist_classifier", encoder=zoo.create_model("ae_mnist", **TINY))


MODELS = {
    "autoencoder": lambda: zoo.create_model("ae_mnist", **TINY),
    # tied weights, a corruption layer, dropout and a contractive penalty: every custom layer in one file
    "regularized": lambda: zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=4, tied=True, hidden_dropout=0.2,
                                            noise=[["gaussian", 0.3]], contractive_weight=0.1),
    "vae": lambda: zoo.create_model("vae_mnist", **TINY),
    "cvae": lambda: zoo.create_model("cvae_mnist", **TINY),
    "classifier": _classifier,
}


def _json(config):
    return json.loads(json.dumps(config))   # a tuple in memory is a list in the file


def _outputs(model, x):
    if model.conditional:
        return model.predict({"image": x, "label": np.arange(len(x)) % 10}, verbose=0)
    return model.predict(x, verbose=0)


@pytest.mark.parametrize("kind", list(MODELS))
def test_save_load_round_trip_is_exact(kind, tmp_path, rng):
    model = MODELS[kind]()
    # Weights away from their initial values, so a loader that rebuilt without reading them would differ.
    model.set_weights([w + rng.normal(0, 0.01, w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.random((6, 784), dtype=np.float32)
    card = {"name": model.name, "metrics": {"x": 1.5}}
    registry.save_model(model, tmp_path / "m", card=card)
    for source in (tmp_path / "m", tmp_path / "m" / "model.keras", str(tmp_path / "m")):
        loaded = zoo.load(source)
        assert type(loaded) is type(model) and _json(loaded.get_config()) == _json(model.get_config())
        assert len(loaded.get_weights()) == len(model.get_weights())
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            assert np.array_equal(a, b)
        assert np.array_equal(_outputs(loaded, x), _outputs(model, x))
    assert zoo.model_card(tmp_path / "m") == card


@pytest.mark.parametrize("kind", list(MODELS))
def test_the_size_bound_counts_what_keras_allocates(kind):
    # The loader refuses a file on this estimate before building anything, so it must not undercount.
    model = MODELS[kind]()
    estimate = type(model).parameter_count(model.get_config())
    assert abs(estimate - model.count_params_unique()) <= 1   # the VAE's KL weight (kl_beta) is not counted


def test_a_resave_carries_over_files_it_does_not_write(tmp_path):
    model = zoo.create_model("ae_mnist", **TINY)
    folder = registry.save_model(model, tmp_path / "m", card={"name": "first"})
    (folder / "exports").mkdir()
    (folder / "exports" / "decoder.tflite").write_bytes(b"x")
    registry.save_model(model, folder, card={"name": "again"})
    assert (folder / "exports" / "decoder.tflite").read_bytes() == b"x"
    assert zoo.model_card(folder) == {"name": "again"}


@pytest.mark.slow
def test_the_saved_file_holds_no_optimizer_state(tmp_path, rng):
    # A pretrained file is for inference and fine-tuning: Adam's moments would triple its size.
    model = zoo.create_model("ae_mnist", **TINY)
    model.fit(rng.random((64, 784), dtype=np.float32), epochs=1, batch_size=32, verbose=0)
    registry.save_model(model, tmp_path / "m")
    model.save(tmp_path / "with_optimizer.keras")   # Keras's own save keeps the trained optimizer's moments

    def weights_bytes(path):
        with zipfile.ZipFile(path) as zf:
            return zf.getinfo("model.weights.h5").file_size

    assert weights_bytes(tmp_path / "m" / "model.keras") < 0.6 * weights_bytes(tmp_path / "with_optimizer.keras")


# -- the safe loader -----------------------------------------------------------------------------------------------
def _members(model):
    """A saved tiny model's archive members, to edit."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        registry.save_model(model, Path(d) / "m")
        with zipfile.ZipFile(Path(d) / "m" / "model.keras") as zf:
            return {n: zf.read(n) for n in zf.namelist()}


def write_archive(path, members, config=None):
    members = dict(members)
    if config is not None:
        members["config.json"] = config if isinstance(config, bytes) else json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


@pytest.fixture(scope="module")
def tiny_members():
    return _members(zoo.create_model("ae_mnist", **TINY))


def test_a_config_asking_for_billions_of_parameters_is_refused_before_allocating(tmp_path, tiny_members):
    config = json.loads(tiny_members["config.json"])
    config["config"]["hidden_units"] = [30000, 30000]     # 1.8 billion parameters, 7 GB of float32
    path = write_archive(tmp_path / "huge.keras", tiny_members, config)
    assert path.stat().st_size < 100_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # kB on Linux
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"huge.keras: its config implies 1,8\d\d,\d{3},\d{3} parameters, above the "
                                       r"limit of 50,000,000; refused before allocating anything"):
        zoo.load(path)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000   # < 200 MB more at peak


def test_a_classifier_file_asking_for_a_huge_head_is_refused(tmp_path):
    members = _members(_classifier())
    config = json.loads(members["config.json"])
    config["config"]["head_units"] = 10 ** 8
    with pytest.raises(ZooError, match="parameters, above the limit"):
        zoo.load(write_archive(tmp_path / "head.keras", members, config))


def test_a_config_json_over_a_megabyte_is_refused_unread(tmp_path, tiny_members):
    config = json.loads(tiny_members["config.json"])
    config["config"]["padding"] = "x" * (1 << 20)
    path = write_archive(tmp_path / "big.keras", tiny_members, config)
    assert path.stat().st_size < 100_000   # it compresses: the bound is on what it would inflate to
    with pytest.raises(ZooError, match=r"big.keras: config.json is too large \(limit 1,048,576 bytes"):
        zoo.load(path)


def test_a_plain_keras_model_is_not_a_zoo_model(tmp_path):
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ZooError) as e:
        zoo.load(tmp_path / "plain.keras")
    message = str(e.value)
    assert "\n" not in message and "holds a 'Sequential', not a zoo model" in message and "plain.keras" in message


def test_weights_with_nan_or_inf_are_refused(tmp_path):
    for bad in (np.nan, np.inf):
        model = zoo.create_model("ae_mnist", **TINY)
        weights = model.get_weights()
        weights[2][0, 0] = bad
        model.set_weights(weights)
        folder = registry.save_model(model, tmp_path / f"m{bad}")
        with pytest.raises(ZooError, match=r"model.keras: weight .* contains NaN or Inf; the file is corrupt"):
            zoo.load(folder)


def test_an_archive_with_a_bad_member_checksum_is_refused(tmp_path, tiny_members):
    path = write_archive(tmp_path / "flipped.keras", tiny_members)
    blob = bytearray(path.read_bytes())
    start = blob.find(b"model.weights.h5") + 200   # inside the weights' compressed bytes
    blob[start:start + 8] = bytes(8)
    path.write_bytes(bytes(blob))
    with pytest.raises(ZooError, match=r"flipped.keras (is corrupt|is corrupt or truncated|could not be loaded)"):
        zoo.load(path)
