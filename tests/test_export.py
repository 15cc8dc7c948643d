"""The exporter (issue 5): LiteRT and SavedModel files of model parts, checked against Keras.

Small models with tiny configs, trained for one epoch so the int8 metric bound means something, plus the
shipped exports in saved_models/*/exports when present."""

import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, has_mnist, needs_mnist

import zoo
import export
from export.parts import ExportError, PartData, keras_predict
from zoo.errors import ZooError

pytestmark = needs_mnist
EXAMPLE = ROOT / "export" / "examples" / "run_decoder.py"


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def tiny_ae():
    import keras
    from zoo import data, train

    keras.utils.set_random_seed(0)
    model = zoo.build("ae_mnist", hidden_units=[32], latent_dim=4)
    splits = data.mnist_splits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's end-of-dataset notice during a one-epoch fit
        train.fit(model, splits, epochs=1, batch_size=128, verbose=0)
    return model


@pytest.fixture(scope="module")
def ae_exports(tiny_ae, tmp_path_factory):
    out = tmp_path_factory.mktemp("ae_exports")
    reports = {}
    for part, q, io in [("decoder", "none", "float"), ("decoder", "float16", "float"),
                        ("decoder", "int8", "float"), ("decoder", "int8", "int8"), ("encoder", "none", "float"),
                        ("encoder", "int8", "float")]:
        reports[(part, q, io)] = export.to_litert(tiny_ae, part=part, quantize=q, io=io, out=out,
                                                  timing=(part, q) == ("decoder", "int8"),
                                                  representative_size=1000)
    reports[("decoder", "savedmodel")] = export.to_saved_model(tiny_ae, part="decoder", out=out, timing=False)
    return out, reports


# -- tolerances -----------------------------------------------------------------------------------------------
def test_float32_litert_within_1e5_of_keras(ae_exports):
    _, r = ae_exports
    for part in ("decoder", "encoder"):
        rep = r[(part, "none", "float")]
        assert rep["max_abs_diff"] <= 1e-5, rep
        assert rep["passed"]
        assert rep["metric"]["name"] == "bce_per_image"
        assert abs(rep["metric"]["relative_diff"]) < 1e-5


def test_float32_rerun_independently(tiny_ae, ae_exports):
    """Re-measure from the file, not from the report: a fresh runner on a fresh seeded batch."""
    out, _ = ae_exports
    runner = export.LiteRTRunner(out / "decoder_float32.tflite", input_order=["z"])
    z = np.random.default_rng(123).standard_normal((50, 4)).astype(np.float32)
    want = keras_predict(tiny_ae.decoder, [z])[0]
    assert np.max(np.abs(runner([z])[0] - want)) <= 1e-5


def test_float16_within_1e2(ae_exports):
    rep = ae_exports[1][("decoder", "float16", "float")]
    assert rep["max_abs_diff"] <= 1e-2 and rep["passed"]
    assert rep["size_bytes"] < 0.6 * ae_exports[1][("decoder", "none", "float")]["size_bytes"]


def test_int8_decoder_bce_within_2pct_of_float(ae_exports):
    for io in ("float", "int8"):
        rep = ae_exports[1][("decoder", "int8", io)]
        m = rep["metric"]
        assert m["chain"] == "keras encoder -> exported decoder" and m["images"] > 1000
        assert abs(m["exported"] - m["keras"]) / m["keras"] <= 0.02, m
        assert rep["checks"]["int8_bce_within_2pct"]["passed"]
        assert rep["representative"]["source"] == "encoder codes of training images"


def test_savedmodel_matches_keras(ae_exports):
    rep = ae_exports[1][("decoder", "savedmodel")]
    assert rep["max_abs_diff"] <= 1e-5 and rep["passed"]
    assert export.SavedModelRunner(Path(rep["path"]), ["z"])


# -- builtin ops, int8 io ---------------------------------------------------------------------------------------
def test_all_ops_builtin(ae_exports):
    out, reports = ae_exports
    for key, rep in reports.items():
        if rep["format"] != "litert":
            continue
        ops = export.ops_of((out / rep["file"]).read_bytes())
        assert ops == rep["ops"] and ops
        assert rep["builtin_only"] and not export.litert.non_builtin(ops), (key, ops)
        assert not any(op.startswith(("CUSTOM", "Flex")) for op in ops)
    assert "FULLY_CONNECTED" in reports[("decoder", "int8", "float")]["ops"]


def test_int8_io_scale_and_zero_point(ae_exports):
    out, reports = ae_exports
    rep = reports[("decoder", "int8", "int8")]
    assert rep["file"] == "decoder_int8_int8io.tflite"
    (inp,), (outp,) = rep["inputs"], rep["outputs"]
    assert inp["dtype"] == "int8" and outp["dtype"] == "int8"
    assert inp["scale"] > 0 and -128 <= inp["zero_point"] <= 127
    assert outp["scale"] == pytest.approx(1 / 256) and outp["zero_point"] == -128  # sigmoid output
    d = export.load_litert(out / rep["file"]).get_input_details()[0]
    assert d["dtype"] == np.int8 and d["quantization"] == pytest.approx((inp["scale"], inp["zero_point"]))
    # float io files keep float tensors and carry no scale
    f = reports[("decoder", "int8", "float")]["inputs"][0]
    assert f["dtype"] == "float32" and "scale" not in f


def test_manifest(ae_exports):
    out, reports = ae_exports
    manifest = json.loads((out / export.MANIFEST).read_text())
    assert set(manifest["artifacts"]) == {r["file"] for r in reports.values()}
    assert manifest["parts"] == ["encoder", "decoder"] and manifest["latent_dim"] == 4
    entry = manifest["artifacts"]["decoder_int8.tflite"]
    for key in ("size_bytes", "sha256", "max_abs_diff", "mean_abs_diff", "metric", "ops", "latency_ms_single"):
        assert key in entry
    assert entry["latency_ms_single"]["exported"] > 0 and entry["latency_ms_single"]["keras_call"] > 0
    assert not list(out.glob(".*tmp*"))  # no temporary leftovers


# -- errors ------------------------------------------------------------------------------------------------------
def test_missing_part_names_the_parts(tiny_ae, tmp_path):
    with pytest.raises(ZooError, match="has no generator; it has: encoder, decoder"):
        export.to_litert(tiny_ae, part="generator", quantize="none", out=tmp_path)
    with pytest.raises(ExportError, match="unknown part"):
        export.to_saved_model(tiny_ae, part="body", out=tmp_path)


def test_int8_without_data_is_a_clear_error(tiny_ae, tmp_path, monkeypatch):
    from export import parts

    monkeypatch.setattr(parts, "_SPLITS", {"s": None, "err": "ZOO_DATA_DIR is set but mnist.npz does not exist"})
    with pytest.raises(ExportError, match="int8 calibration of the decoder needs MNIST training images"):
        export.to_litert(tiny_ae, part="decoder", quantize="int8", out=tmp_path)
    rep = export.to_litert(tiny_ae, part="decoder", quantize="none", out=tmp_path, timing=False)
    assert rep["metric"] is None and rep["passed"]  # float exports still work, without the data metric


def test_bad_arguments(tiny_ae, tmp_path):
    with pytest.raises(ExportError, match="io int8 needs --quantize int8"):
        export.to_litert(tiny_ae, part="decoder", quantize="float16", io="int8", out=tmp_path)
    with pytest.raises(ExportError, match="unknown quantize"):
        export.to_litert(tiny_ae, part="decoder", quantize="int4", out=tmp_path)
    with pytest.raises(ExportError, match="out= is required"):
        export.to_litert(tiny_ae, part="decoder", quantize="none")


def test_corrupt_and_truncated_litert_refused(ae_exports, tmp_path):
    out, _ = ae_exports
    good = (out / "decoder_int8.tflite").read_bytes()
    cases = {"half.tflite": good[: len(good) // 2], "tail.tflite": good[:-64], "tiny.tflite": good[:40],
             "garbage.tflite": b"not a flatbuffer at all", "empty.tflite": b""}
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ExportError, match=name):
            export.load_litert(p)
    with pytest.raises(ExportError, match="does not exist"):
        export.load_litert(tmp_path / "missing.tflite")
    # weights corrupted in place keep a valid structure; the sha256 in export.json catches them
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / export.MANIFEST).write_text((out / export.MANIFEST).read_text())
    bad = bytearray(good)
    bad[len(bad) // 2: len(bad) // 2 + 64] = bytes(64)
    (copy / "decoder_int8.tflite").write_bytes(bytes(bad))
    with pytest.raises(ExportError, match="sha256 does not match"):
        export.load_litert(copy / "decoder_int8.tflite")


def test_corrupt_savedmodel_refused(ae_exports, tmp_path):
    import shutil

    out, _ = ae_exports
    sm = tmp_path / "decoder_savedmodel"
    shutil.copytree(out / "decoder_savedmodel", sm)
    data = next((sm / "variables").glob("*.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ExportError, match="decoder_savedmodel is a corrupt or truncated SavedModel"):
        export.load_saved_model(sm)
    (sm / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(ExportError, match="corrupt or truncated"):
        export.load_saved_model(sm)
    (sm / "saved_model.pb").unlink()
    with pytest.raises(ExportError, match="saved_model.pb is missing"):
        export.load_saved_model(sm)


# -- multi-input / multi-output parts (class-conditional VAE) ------------------------------------------------------
def test_conditional_vae_parts(tmp_path):
    if "cvae_mnist" not in zoo.list_models():
        pytest.skip("cvae_mnist is not registered")
    import keras

    keras.utils.set_random_seed(0)
    model = zoo.build("cvae_mnist", hidden_units=[16], latent_dim=3)
    enc = export.to_litert(model, part="encoder", quantize="none", out=tmp_path, timing=False)
    assert [i["name"] for i in enc["inputs"]] == [t.name for t in model.encoder.inputs]
    assert len(enc["outputs"]) == 2 and enc["max_abs_diff"] <= 1e-5  # z_mean and z_log_var, each compared
    runner = export.LiteRTRunner(tmp_path / "encoder_float32.tflite", [t.name for t in model.encoder.inputs])
    pd = PartData(model, "encoder")
    batch = pd.comparison_batch(16, seed=5)
    for got, want in zip(runner(batch), keras_predict(model.encoder, batch)):
        assert np.max(np.abs(got - want)) <= 1e-5
    dec = export.to_litert(model, part="decoder", quantize="int8", io="int8", out=tmp_path, timing=False,
                           representative_size=400)
    assert len(dec["inputs"]) == 2 and all(i["dtype"] == "int8" and "scale" in i for i in dec["inputs"])
    assert "posterior samples" in dec["representative"]["source"] and "one-hot" in dec["representative"]["source"]
    assert dec["builtin_only"] and abs(dec["metric"]["relative_diff"]) <= 0.02


# -- command line ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_folder(tiny_ae, tmp_path_factory):
    from zoo.registry import save_model_dir

    folder = tmp_path_factory.mktemp("cli") / "tiny_ae"
    save_model_dir(tiny_ae, folder)
    return folder


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "export", *map(str, args)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=180)


def test_cli_exports_and_writes_manifest(model_folder, tmp_path):
    r = _cli(model_folder, "--part", "decoder", "--format", "all", "--quantize", "none", "--out",
             tmp_path, "--no-latency")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "export.json").read_text())
    assert set(manifest["artifacts"]) == {"decoder_savedmodel", "decoder_float32.tflite"}
    assert manifest["commands"][-1].startswith("python -m export ")
    assert all(a["passed"] for a in manifest["artifacts"].values())
    assert "decoder_float32.tflite" in r.stdout and "Traceback" not in r.stderr


def test_cli_errors_are_one_line(model_folder, tmp_path):
    r = _cli(model_folder, "--part", "generator", "--out", tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "has no generator; it has: encoder, decoder" in lines[0]
    with pytest.raises(ZooError, match="unknown model 'no_such_model'"):  # in-process: one TF start less
        export.to_litert("no_such_model", quantize="none", out=tmp_path)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    r = _cli(bad)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "model.keras" in lines[0], r.stderr
    r = _cli(model_folder, "--quantize", "int4")
    assert r.returncode == 2 and "--quantize" in r.stderr
    r = _cli(model_folder, "--quantize", "float16", "--io", "int8")
    assert r.returncode == 2 and "--io int8 needs --quantize int8" in r.stderr
    r = _cli("--help")
    assert r.returncode == 0 and "--quantize" in r.stdout and "export.json" in r.stdout


# -- the device-side example, with TensorFlow made unimportable -------------------------------------------------------
def _read_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = size
    raw = zlib.decompress(idat)
    assert len(raw) == h * (w + 1)
    return w, h, np.frombuffer(raw, np.uint8).reshape(h, w + 1)[:, 1:]


@pytest.mark.parametrize("name", ["decoder_int8_int8io.tflite", "decoder_int8.tflite"])
def test_example_runs_without_tensorflow(ae_exports, tmp_path, name):
    stub = tmp_path / "stub" / "tensorflow"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('tensorflow is blocked in this test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "stub"))
    blocked = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "blocked" in blocked.stderr
    png = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, str(EXAMPLE), str(ae_exports[0] / name), str(png), "--n", "20",
                        "--cols", "5", "--seed", "1"], env=env, capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    w, h, pixels = _read_png(png)
    assert (w, h) == (5 * 30 + 2, 4 * 30 + 2)
    assert pixels[2:30, 2:30].std() > 0  # a decoded digit, not a blank tile


def test_example_imports_only_numpy_litert_stdlib():
    import ast

    tree = ast.parse(EXAMPLE.read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert mods <= {"argparse", "struct", "sys", "zlib", "numpy", "ai_edge_litert"}, mods


# -- shipped exports ---------------------------------------------------------------------------------------------------
SHIPPED = sorted(zoo.registry.saved_models_dir().glob("*/exports/export.json"))


@pytest.mark.skipif(not SHIPPED, reason="no exports shipped in saved_models/")
@pytest.mark.parametrize("manifest_path", SHIPPED, ids=lambda p: p.parent.parent.name)
def test_shipped_exports(manifest_path):
    manifest = json.loads(manifest_path.read_text())
    folder = manifest_path.parent
    model_file = manifest_path.parent.parent / "model.keras"
    if "source_sha256" in manifest:
        assert export.api._sha256(model_file) == manifest["source_sha256"], (
            f"{folder} is stale: model.keras changed since export; re-run: {manifest.get('commands')}")
    model = zoo.load(manifest_path.parent.parent)
    for name, entry in manifest["artifacts"].items():
        assert entry["passed"], name
        if entry["format"] != "litert":
            continue
        path = folder / name
        assert path.stat().st_size == entry["size_bytes"]
        ops = export.ops_of(path.read_bytes())
        assert not export.litert.non_builtin(ops), (name, ops)
        pd = PartData(model, entry["part"], manifest["model"])
        runner = export.LiteRTRunner(path, pd.names)  # also checks the sha256 in export.json
        err = export.validate.output_error(pd.part_model, runner, pd.comparison_batch(32, seed=7))
        if entry["quantize"] == "float32":
            assert err["max_abs_diff"] <= 1e-5, name
        elif entry["quantize"] == "float16":
            assert err["max_abs_diff"] <= 1e-2, name
        elif entry["quantize"] == "int8" and entry["part"] == "decoder":
            m = pd.metric(runner)
            assert abs(m["relative_diff"]) <= 0.02, (name, m)
            if entry["io"] == "int8":
                assert all("scale" in t and "zero_point" in t for t in entry["inputs"] + entry["outputs"])


@pytest.mark.skipif(not (ROOT / "saved_models" / "mnist_classifier" / "model.keras").is_file(),
                    reason="mnist_classifier not shipped")
def test_classifier_part_exports_the_whole_classifier(tmp_path):
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    import zoo
    from export.parts import available_parts

    model = zoo.load("mnist_classifier")
    assert "classifier" in available_parts(model)
    report = export.to_litert(model, part="classifier", quantize="none", out=tmp_path, timing=False)
    assert report["max_abs_diff"] <= 1e-5 and report["builtin_only"]
    assert report["metric"]["name"] == "accuracy"
    assert report["metric"]["exported"] == pytest.approx(report["metric"]["keras"], abs=1e-4)
    assert report["metric"]["keras"] > 0.98
