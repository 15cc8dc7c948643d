import json
import zipfile

import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.errors import ZooError


def test_list_models_filters_by_pattern():
    names = zoo.list_models()
    assert {"ae_mnist", "linear_ae_mnist"} <= set(names) and names == sorted(names)
    assert zoo.list_models("linear*") == ["linear_ae_mnist"]
    assert zoo.list_models("nothing*") == []


def test_unknown_name_suggests_close_names():
    with pytest.raises(ZooError, match=r"unknown model 'ae_mnst'; did you mean ae_mnist"):
        zoo.build("ae_mnst")
    with pytest.raises(ZooError, match="did you mean"):
        zoo.load("linear_ae")
    with pytest.raises(ZooError, match="unknown model"):
        zoo.model_card("qqqq")


def test_build_applies_overrides_and_refuses_unknown_keys():
    m = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    assert m.latent_dim == 3 and m.encoder.output_shape == (None, 3)
    assert m.get_config()["hidden_units"] == [16]
    with pytest.raises(ZooError, match=r"unknown config keys \['latent'\]"):
        zoo.build("ae_mnist", latent=3)


def test_missing_folder_and_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(ZooError, match="does not exist"):
        zoo.load(str(tmp_path / "nope" / "model.keras"))
    monkeypatch.setenv("ZOO_MODELS_DIR", str(tmp_path))
    with pytest.raises(ZooError, match="no pretrained weights for 'ae_mnist'.*python -m zoo train ae_mnist"):
        zoo.load("ae_mnist")


def _saved(tmp_path, rng):
    m = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    x = rng.random((5, 784), dtype=np.float32)
    folder = registry.save_model_dir(m, tmp_path / "tiny", card={"name": "tiny"})
    return m, x, folder


def test_save_load_round_trip_is_exact(tmp_path, rng):
    m, x, folder = _saved(tmp_path, rng)
    m2 = zoo.load(folder)
    assert type(m2) is type(m) and m2.get_config() == m.get_config()
    np.testing.assert_array_equal(m2.reconstruct(x), m.reconstruct(x))
    np.testing.assert_array_equal(m2.encode(x), m.encode(x))
    assert zoo.model_card(folder) == {"name": "tiny"}


def test_truncated_and_corrupt_model_files_are_refused(tmp_path, rng):
    _, _, folder = _saved(tmp_path, rng)
    path = folder / "model.keras"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ZooError, match=r"model.keras.*(corrupt|truncated)"):
        zoo.load(folder)
    path.write_bytes(b"definitely not a zip")
    with pytest.raises(ZooError, match="not a .keras archive"):
        zoo.load(folder)


def test_corrupt_card_is_refused(tmp_path, rng):
    _, _, folder = _saved(tmp_path, rng)
    (folder / "card.json").write_text('{"name": "tin')
    with pytest.raises(ZooError, match=r"card.json is not valid JSON"):
        zoo.model_card(folder)


def test_model_file_naming_a_foreign_class_is_refused(tmp_path, rng):
    _, _, folder = _saved(tmp_path, rng)
    path = folder / "model.keras"
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["module"], config["class_name"] = "os", "system"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(ZooError, match="from module 'os'"):
        zoo.load(folder)


def test_interrupted_save_keeps_the_old_model(tmp_path, rng):
    m, x, folder = _saved(tmp_path, rng)
    before = zoo.load(folder).reconstruct(x)

    def crash(path):
        raise RuntimeError("disk died mid-save")

    m2 = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    with pytest.raises(RuntimeError):
        registry.save_model_dir(m2, folder, card={"name": "new"}, extra_files={"x.png": crash})
    np.testing.assert_array_equal(zoo.load(folder).reconstruct(x), before)
    assert zoo.model_card(folder) == {"name": "tiny"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # no temporary folder left behind


def test_resave_carries_over_files_it_does_not_write(tmp_path, rng):
    m, x, folder = _saved(tmp_path, rng)
    (folder / "exports").mkdir()
    (folder / "exports" / "decoder.tflite").write_bytes(b"x")
    registry.save_model_dir(m, folder, card={"name": "again"})
    assert (folder / "exports" / "decoder.tflite").read_bytes() == b"x"
    assert zoo.model_card(folder) == {"name": "again"}
