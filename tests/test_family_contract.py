"""The core knows no family: a family defined outside the package (tests/tiny_family.py, independent Bernoulli
pixels) goes through the same API and command line as the shipped ones (list, create_model, train, evaluate,
pictures, load, publish, export) without a line of the core changed.

In this process the family is registered with zoo.families.register and removed afterwards; the command
line finds it through $ZOO_FAMILIES. ZOO_RUNS_DIR and ZOO_MODELS_DIR point into temporary folders, so nothing
here touches the repository.
"""

import ast
import hashlib
import importlib
import json
import os
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import keras

import zoo
from zoo import families, registry
from conftest import needs_mnist, run_zoo_here

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests.tiny_family"
NAME = "pixel_marginals_mnist"
UNTRAINED_NLL = 784 * np.log(2)   # every pixel at probability 1/2


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, read independently of matplotlib."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def nll_numpy(p, x):
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    x = np.asarray(x, np.float64)
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """Temporary runs/ and saved_models/ folders for this module, in the environment of this process and of
    every command it starts."""
    base = tmp_path_factory.mktemp("family_contract")
    env = {"ZOO_RUNS_DIR": str(base / "runs"), "ZOO_MODELS_DIR": str(base / "models")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        yield base


@pytest.fixture(scope="module")
def tiny(places):
    """tests/tiny_family registered in this process; the registries are restored afterwards, so other test
    files see the shipped families only."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = importlib.import_module(MODULE)
    saved = dict(families.FAMILIES), dict(families.PRESETS)
    families.register(module)
    yield module
    for table, before in zip((families.FAMILIES, families.PRESETS), saved):
        table.clear()
        table.update(before)


@pytest.fixture(scope="module")
def mnist():
    try:
        return zoo.data.splits("mnist")
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")


@pytest.fixture(scope="module")
def trained(tiny, places, mnist):
    """One run of zoo.training.train into a temporary folder."""
    return zoo.training.train(NAME, out=places / "api_run", verbose=0)


def run_cli(args, places, timeout=300, data_dir=None):
    """A command in a fresh process that finds the tiny family through $ZOO_FAMILIES (and, given data_dir, reads
    its MNIST there)."""
    env = {**os.environ, **({"ZOO_DATA_DIR": str(data_dir)} if data_dir else {}),
           "ZOO_FAMILIES": MODULE, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "ZOO_RUNS_DIR": str(places / "runs"), "ZOO_MODELS_DIR": str(places / "models"),
        "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *args], cwd=places, env=env, capture_output=True, text=True,
                          timeout=timeout)


# -- the core names no family ------------------------------------------------------------------------------------
CORE = ["registry", "training", "cli", "base", "io", "data", "figures", "checks", "compat", "errors", "__main__"]


@pytest.mark.parametrize("module", CORE + ["layers"])
def test_core_modules_import_no_family(module):
    """import-linter lets a higher layer (registry, training, cli) import a family module; the contract is
    stricter: the core reaches families only through zoo.families' tables."""
    path = ROOT / "zoo" / module
    files = sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            bad = [n for n in names if n.startswith("zoo.families.")]
            assert not bad, f"{f.name} imports {bad}"


# -- registration ----------------------------------------------------------------------------------------------------
def test_registered_family_is_listed_and_built(tiny):
    assert NAME in zoo.list_models() and zoo.list_models("pixel*") == [NAME]
    assert registry.family(NAME) is tiny and registry.preset(NAME)["family"] == "pixel_marginals"
    model = zoo.create_model(NAME)
    assert type(model) is tiny.PixelMarginals and model.name == NAME
    assert registry.family_of_model(model) is tiny
    np.testing.assert_array_equal(model.mean_image(), np.full(784, 0.5, np.float32))
    assert model.count_params_unique() == 784 == tiny.PixelMarginals.parameter_count(model.get_config())
    with pytest.raises(zoo.ZooError, match="unknown config keys"):
        zoo.create_model(NAME, latent_dim=3)
    with pytest.raises(zoo.ZooError, match="no pretrained weights"):
        zoo.create_model(NAME, pretrained=True)


def test_a_preset_name_belongs_to_one_family(tiny):
    clash = types.ModuleType("clashing_family")
    clash.PRESETS = {"ae_mnist": {"class": tiny.PixelMarginals, "config": {}, "data": "mnist", "description": ""}}
    before = dict(families.PRESETS)
    with pytest.raises(RuntimeError, match="ae_mnist"):
        families.register(clash)
    assert families.PRESETS == before and "clashing_family" not in families.FAMILIES


def test_untrained_model_is_keras_native(tiny):
    model = zoo.create_model(NAME)
    u8 = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert model.predict(u8, verbose=0).shape == (5, 28, 28)
    # evaluate without compile: the loss is the NLL of images under p = 1/2, i.e. 784 log 2 whatever they are.
    log = model.evaluate(u8, verbose=0, return_dict=True)
    assert log["loss"] == pytest.approx(UNTRAINED_NLL, rel=1e-5)


# -- the API end to end ------------------------------------------------------------------------------------------
@needs_mnist
@pytest.mark.slow
def test_train_writes_a_card_with_real_figures(trained, mnist):
    model, card, folder = trained
    assert folder.is_dir() and {"model.keras", "card.json", "preview.png"} <= {p.name for p in folder.iterdir()}
    on_disk = json.loads((folder / "card.json").read_text())
    assert on_disk["metrics"] == card["metrics"] and on_disk["name"] == NAME
    assert card["family"] == "pixel_marginals" and card["class"] == "PixelMarginals" and card["parameters"] == 784
    nll = card["metrics"]["nll_per_image"]
    assert isinstance(nll, float) and np.isfinite(nll)
    # The card's figure recomputed with numpy from the model's pixel probabilities.
    x_test = mnist["test"][0]
    assert nll == pytest.approx(nll_numpy(model.mean_image(), x_test).mean(), rel=1e-4)
    # One epoch gets close to the closed-form optimum (the training split's mean image), far from the start.
    optimum = card["train_mean_image"]["nll_per_image"]
    assert optimum == pytest.approx(nll_numpy(np.clip(mnist["train"][0].mean(0), 1e-4, 1 - 1e-4), x_test).mean(),
                                    rel=1e-4)
    assert nll < 1.05 * optimum and nll < 0.5 * UNTRAINED_NLL
    assert card["training"]["epochs_run"] == 1 and card["training"]["final"]["loss"] > 0
    assert png_size(folder / "preview.png")[0] >= 600


def sha256_of_split(*arrays):
    """The record's hash, computed here with hashlib alone: dtype, shape and bytes of each array in turn."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@needs_mnist
@pytest.mark.slow
def test_the_card_records_the_data_it_read_and_a_remeasure_keeps_what_it_was_trained_on(
        trained, mnist, small_data_dir, tmp_path, monkeypatch):
    model, card, folder = trained
    record = card["data"]
    for split in ("train", "val", "test"):
        assert record[f"{split}_examples"] == len(mnist[split][0])
        assert record["sha256"][split] == sha256_of_split(*mnist[split])
    npz = Path(os.environ["ZOO_DATA_DIR"]) / "mnist.npz"
    assert record["source"] == "$ZOO_DATA_DIR/mnist.npz"
    assert record["file_sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()
    assert f"the {len(mnist['test'][0]):,}-image test set" in record["note"] and "trained_on" not in record

    # On other data (a cut-down copy), the card's figures are measured again and what it was trained on stays.
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    small_test = zoo.data.splits("mnist")["test"][0]
    new = zoo.training.remeasure(copy)
    assert json.loads((copy / "card.json").read_text()) == new
    assert new["data"]["test_examples"] == len(small_test)
    assert new["data"]["trained_on"] == {k: v for k, v in record.items() if k != "test_examples"}
    assert new["earlier_metrics"] == {"data": record["note"], "metrics": card["metrics"]}
    assert new["metrics"]["nll_per_image"] == pytest.approx(nll_numpy(model.mean_image(), small_test).mean(), rel=1e-4)
    assert new["training"] == card["training"] and new["remeasured"]["command"].startswith("zoo evaluate")
    # Back on the data it was trained on: the card's own figures again, and nothing says it was trained elsewhere.
    monkeypatch.setenv("ZOO_DATA_DIR", str(npz.parent))
    again = zoo.training.remeasure(copy)
    assert "trained_on" not in again["data"] and again["data"]["sha256"] == record["sha256"]
    assert again["metrics"] == card["metrics"]


@pytest.mark.slow
@needs_mnist
def test_loading_the_trained_folder_gives_identical_outputs(trained, mnist):
    model, _, folder = trained
    for loaded in (zoo.load(folder), keras.saving.load_model(folder / "model.keras")):
        assert type(loaded) is type(model)
        x = mnist["test"][0][:64]
        np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
        np.testing.assert_array_equal(loaded.log_likelihood(x), model.log_likelihood(x))
        np.testing.assert_array_equal(loaded.sample(10, seed=4), model.sample(10, seed=4))
        assert loaded.test_metrics(x) == model.test_metrics(x)


@needs_mnist
@pytest.mark.slow
def test_pictures_hook_draws_pngs(trained, mnist, tmp_path):
    model, _, _ = trained
    hook = registry.hook(registry.family(NAME), "pictures")
    figs = hook(model, mnist)
    assert set(figs) == {"samples.png", "mean_image.png"}
    for fname, fig in figs.items():
        width, height = png_size(zoo.figures.save(fig, tmp_path / fname))
        assert width >= 600 and height > 0


@needs_mnist
@pytest.mark.slow
def test_publish_then_load_by_name(trained, places):
    model, _, folder = trained
    target = zoo.training.publish_run(NAME, folder)
    assert target == places / "models" / NAME and (target / "model.keras").is_file()
    for loaded in (zoo.load(NAME), zoo.create_model(NAME, pretrained=True), registry.from_preset(NAME)):
        np.testing.assert_array_equal(loaded.mean_image(), model.mean_image())
    assert type(type(model).from_preset(NAME)) is type(model)
    with pytest.raises(zoo.ZooError, match="not a Autoencoder"):
        zoo.Autoencoder.from_preset(NAME)
    assert zoo.model_card(NAME)["name"] == NAME


@needs_mnist
@pytest.mark.slow
def test_cli_in_process_sample_and_info(trained, places, capsys):
    from zoo.cli import main

    _, card, folder = trained
    assert main(["info", NAME]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "pixel_marginals" and info["train"]["epochs"] == 1
    out = places / "cli_samples.png"
    assert main(["sample", str(folder), "--out", str(out), "-n", "20", "--seed", "3"]) == 0
    assert png_size(out)[0] >= 600


# -- the command line, in fresh processes -------------------------------------------------------------------------
@needs_mnist
@pytest.mark.slow
def test_command_line_lists_trains_evaluates_draws_and_exports(tiny, places, small_data_dir):
    """The commands a user runs on a cut-down MNIST (what is shown is that the core drives a family it does not
    know; the figures on real data are the in-process tests' above). `zoo list` runs in a fresh process, which
    finds the family through $ZOO_FAMILIES; the rest run in this one, where the family is registered, without a
    TensorFlow start-up each."""
    listed = run_cli(["-m", "zoo", "list", "pixel*"], places)
    assert listed.returncode == 0, listed.stderr
    assert NAME in listed.stdout and "pixel_marginals" in listed.stdout

    run = places / "cli_run"
    here = dict(ZOO_DATA_DIR=small_data_dir, ZOO_RUNS_DIR=places / "runs", ZOO_MODELS_DIR=places / "models")
    code, out, err = run_zoo_here("train", NAME, "--out", run, "--verbose", "0", **here)
    assert code == 0, err
    report = json.loads(out)
    assert report["saved"] == str(run) and not report["published"]
    assert isinstance(report["metrics"]["nll_per_image"], float)
    assert {"model.keras", "card.json", "preview.png"} <= {p.name for p in run.iterdir()}
    assert not (places / "runs").exists() or not any((places / "runs").iterdir())

    code, out, err = run_zoo_here("evaluate", run, **here)
    assert code == 0, err
    metrics = json.loads(out)
    card = json.loads((run / "card.json").read_text())
    assert metrics["examples"] == card["data"]["test_examples"]
    assert metrics["nll_per_image"] == pytest.approx(card["metrics"]["nll_per_image"], abs=1e-4)

    pics = places / "cli_pictures"
    code, out, err = run_zoo_here("pictures", run, "--out", pics, **here)
    assert code == 0, err
    assert sorted(p.name for p in pics.iterdir()) == ["mean_image.png", "samples.png"]
    assert all(png_size(p)[0] >= 600 for p in pics.iterdir())

    exports = places / "cli_exports"
    exported = run_cli(["-m", "export", str(run), "--part", "scorer", "--format", "litert", "--quantize", "none",
                        "--out", str(exports), "--no-latency"], places, data_dir=small_data_dir)
    assert exported.returncode == 0, exported.stderr
    tflite = exports / "scorer_float32.tflite"
    assert tflite.is_file() and (exports / "export.json").is_file()
    # Run the exported scorer in the LiteRT interpreter and compare with the trained model.
    from ai_edge_litert.interpreter import Interpreter

    x = zoo.data.splits("mnist")["test"][0][:32]
    interp = Interpreter(model_path=str(tflite))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], x.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = interp.get_tensor(out["index"]).reshape(-1) * 784
    expected = zoo.load(run).log_likelihood(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
