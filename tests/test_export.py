"""The exporter: LiteRT and SavedModel files of the parts a family names (export_parts), checked against Keras.

Conversion tests use tiny models (a 784-32-4 autoencoder and VAE trained for one epoch, so the int8 bound on the
task metric means something); the shipped models are loaded only where a test is about the shipped exports."""

import concurrent.futures
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, needs_mnist

import zoo
import export
from export.parts import ExportError

pytestmark = needs_mnist
EXAMPLE = ROOT / "export" / "examples" / "run_decoder.py"
SHIPPED = sorted((ROOT / "saved_models").glob("*/exports/export.json"))


def _train_one_epoch(model, x):
    """One epoch on the first 6,000 training images: enough for realistic weights and codes (the bounds below
    are about export, not about how well the model learned), at a tenth of the full split's cost."""
    import keras
    from zoo.training import fit

    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(model, x[:6000], epochs=1, batch_size=128, learning_rate=3e-3, verbose=0)
    return model


@pytest.fixture(scope="module")
def splits():
    return zoo.data.splits("mnist")


@pytest.fixture(scope="module")
def tiny_ae(splits):
    return _train_one_epoch(zoo.create_model("ae_mnist", hidden_units=[32], latent_dim=4), splits["train"][0])


@pytest.fixture(scope="module")
def tiny_vae(splits):
    return _train_one_epoch(zoo.create_model("vae_mnist", hidden_units=[32], latent_dim=4), splits["train"][0])


@pytest.fixture(scope="module")
def ae(tiny_ae, tmp_path_factory):
    """Every variant of the tiny autoencoder's parts, exported once into one folder: (folder, {key: report})."""
    out = tmp_path_factory.mktemp("ae_exports")
    job = export.prepare(tiny_ae, out=out)
    r = {}
    for part, q, io, batch in [("decoder", "none", "float", None), ("decoder", "float16", "float", None),
                               ("decoder", "int8", "float", None), ("decoder", "int8", "int8", None),
                               ("decoder", "none", "float", 1), ("encoder", "none", "float", None),
                               ("autoencoder", "none", "float", None)]:
        r[(part, q, io, batch)] = export.to_litert(None, part, q, io, batch=batch, job=job, representative_size=1000,
                                                   timing=(part, q, io) == ("decoder", "int8", "float"))
    r["savedmodel"] = export.to_saved_model(None, "decoder", job=job, timing=False)
    return out, r


@pytest.fixture(scope="module")
def vae(tiny_vae, tmp_path_factory):
    out = tmp_path_factory.mktemp("vae_exports")
    job = export.prepare(tiny_vae, out=out)
    return out, {"encoder": export.to_litert(None, "encoder", "none", job=job, timing=False),
                 "decoder_int8": export.to_litert(None, "decoder", "int8", job=job, timing=False,
                                                  representative_size=1000),
                 "encoder_savedmodel": export.to_saved_model(None, "encoder", job=job, timing=False)}


def numpy_decoder(model, z):
    """The tiny autoencoder's decoder by hand: relu(z W1 + b1) W2 + b2, then the sigmoid."""
    w1, b1 = (np.asarray(v, np.float64) for v in model.decoder_logits.get_layer("dec_0").weights)
    w2, b2 = (np.asarray(v, np.float64) for v in model.decoder_logits.get_layer("logits").weights)
    return 1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2)))


def bce(x, p):
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


def signature_names(path):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    return sorted(runner.get_input_details()), sorted(runner.get_output_details())


def float32_bound(job, part, outputs):
    """The exporter's float32 rule (export.validate.max_abs_bound) for `part` of `job`, on these outputs."""
    return export.validate.max_abs_bound("none", outputs, export.validate.summed_terms(job.parts[part].model))


# -- tolerances, measured again from the files ---------------------------------------------------------------------
@pytest.mark.slow
def test_float32_litert_matches_keras_and_numpy(tiny_ae, ae, splits):
    out, r = ae
    job = export.prepare(tiny_ae, out=out)
    for key in [("decoder", "none", "float", None), ("encoder", "none", "float", None),
                ("autoencoder", "none", "float", None), ("decoder", "none", "float", 1)]:
        # the bound recorded is the rule's, on the Keras outputs of the comparison batch
        batch = job.parts[key[0]].inputs(export.validate.COMPARISON_SIZE, export.validate.COMPARISON_SEED)
        bound = float32_bound(job, key[0], export.parts.keras_run(job.parts[key[0]].model, batch))
        assert r[key]["max_abs_bound"] == pytest.approx(bound, rel=1e-6), key
        assert r[key]["max_abs_diff"] <= r[key]["max_abs_bound"] and r[key]["passed"], key
    z = tiny_ae.encode(splits["test"][0][:50])
    want = numpy_decoder(tiny_ae, z.astype(np.float64))
    for name in ("decoder_float32.tflite", "decoder_float32_b1.tflite"):
        got = export.LiteRTRunner(out / name)([z])[0]
        assert got.shape == (50, 784) and np.max(np.abs(got - want)) <= float32_bound(job, "decoder", [want]), name
    whole = export.LiteRTRunner(out / "autoencoder_float32.tflite")([splits["test"][0][:50]])[0]
    # --part autoencoder: image -> encoder -> decoder in one file
    assert np.max(np.abs(whole - want)) <= float32_bound(job, "autoencoder", [want])


def _scaled_mlp(scale, seed=0):
    """A 16-32-4 tanh MLP whose outputs are about `scale` in size: the last layer's weights multiplied by it."""
    import keras

    keras.utils.set_random_seed(seed)
    x = keras.Input((16,), name="x")
    h = keras.layers.Dense(32, activation="tanh")(x)
    last = keras.layers.Dense(4)
    model = keras.Model(x, {"y": last(h)})
    last.kernel.assign(np.asarray(last.kernel) * scale)
    return model


class _Off:
    """A runner whose outputs are the file's times (1 + relative): a file off by that much."""

    def __init__(self, runner, relative):
        self.runner, self.relative = runner, relative

    def __call__(self, arrays):
        return [np.asarray(o, np.float64) * (1 + self.relative) for o in self.runner(arrays)]


@pytest.mark.parametrize("scale", [1e4, 1e-4])
@pytest.mark.slow
def test_the_float32_bound_scales_with_the_outputs(scale, tmp_path):
    """max_abs_bound is relative to the Keras outputs, neither absolute nor floored nor loose: on outputs ~1e4
    a file 8 ulps off passes (an absolute 1e-5 is under 1 ulp there), and a file off by 1e-4 relative (840
    ulps, a tenth of float16's rounding) fails, on outputs ~1e-4 too (where an absolute 1e-5, or a scale
    floored at 1, would pass it)."""
    from zoo.base import ExportPart

    model = _scaled_mlp(scale)
    part = ExportPart(model, lambda n, seed: [np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)])
    export.litert.convert(model, tmp_path / "m.tflite", quantize="none", io="float", representative=None, batch=None)
    runner = export.LiteRTRunner(tmp_path / "m.tflite", ["x"], ["y"], verify_manifest=False)
    report = export.validate.check(part, runner, "litert", "none", timing=False)
    want = np.asarray(model(part.inputs(export.validate.COMPARISON_SIZE, export.validate.COMPARISON_SEED)[0])["y"])
    assert 0.3 * scale < np.max(np.abs(want)) < 30 * scale
    assert report["checks"]["max_abs_diff"]["terms"] == 16 + 32
    assert report["max_abs_bound"] == pytest.approx(4 * np.sqrt(48) * 2.0 ** -23 * np.max(np.abs(want)), rel=1e-6)
    assert report["passed"] and report["max_abs_diff"] <= report["max_abs_bound"]
    few_ulps = export.validate.check(part, _Off(runner, 8 * 2.0 ** -23), "litert", "none", timing=False)
    off = export.validate.check(part, _Off(runner, 1e-4), "litert", "none", timing=False)
    assert few_ulps["passed"] and not off["passed"]
    if scale > 1:
        assert few_ulps["max_abs_diff"] > 1e-5   # an absolute 1e-5 would refuse this correct file
    else:
        assert off["max_abs_diff"] < 1e-5        # an absolute 1e-5 would accept this wrong one


def test_decoders_are_compared_on_codes_of_real_images(tiny_ae, ae, splits):
    """The comparison batch and the calibration set are the part's own inputs: for a decoder, the codes of
    training images (so max|d| is measured where the decoder works), not N(0, I) draws."""
    part = export.prepare(tiny_ae, out=ae[0]).parts["decoder"]
    (codes,) = part.inputs(export.validate.COMPARISON_SIZE, export.validate.COMPARISON_SEED)
    train_codes = tiny_ae.encode(splits["train"][0]).astype(np.float64)
    nearest = [np.min(np.max(np.abs(train_codes - c), axis=1)) for c in codes.astype(np.float64)]
    # float noise of batched matmuls only: within the float32 rule for the encoder, on codes of this size
    job = export.prepare(tiny_ae, out=ae[0])
    assert codes.shape == (64, 4) and max(nearest) <= float32_bound(job, "encoder", [train_codes])
    # the reported max|d| is the one on exactly these codes
    rep = ae[1][("decoder", "int8", "float", None)]
    got = export.LiteRTRunner(ae[0] / rep["file"])([codes])[0]
    assert np.max(np.abs(got - np.asarray(tiny_ae.decoder(codes)))) == pytest.approx(rep["max_abs_diff"], rel=1e-6)


def test_float16_within_1e2(tiny_ae, ae, splits):
    out, r = ae
    rep = r[("decoder", "float16", "float", None)]
    assert rep["max_abs_diff"] <= 1e-2 and rep["passed"]
    assert rep["size_bytes"] < 0.6 * r[("decoder", "none", "float", None)]["size_bytes"]
    z = tiny_ae.encode(splits["test"][0][:100])
    got = export.LiteRTRunner(out / rep["file"])([z])[0]
    assert np.max(np.abs(got - numpy_decoder(tiny_ae, z.astype(np.float64)))) <= 1e-2


@pytest.mark.parametrize("io", ["float", "int8"])
def test_int8_decoder_bce_within_2pct_of_float(tiny_ae, ae, splits, io):
    out, r = ae
    rep = r[("decoder", "int8", io, None)]
    x = splits["test"][0]
    z = tiny_ae.encode(x)
    exported = bce(x, export.LiteRTRunner(out / rep["file"])([z])[0])
    keras_float = bce(x, numpy_decoder(tiny_ae, z.astype(np.float64)))
    assert abs(exported - keras_float) / keras_float <= 0.02
    assert rep["metric"]["exported"] == pytest.approx(exported, abs=1e-3)
    assert rep["metric"]["keras"] == pytest.approx(keras_float, abs=1e-3)
    assert rep["checks"]["metric_within_bound"] == {"metric": "bce_per_image", "bound": 0.02, "passed": True}
    assert rep["calibration"]["examples"] == 1000
    assert np.mean(np.abs(export.LiteRTRunner(out / rep["file"])([z[:100]])[0] - numpy_decoder(tiny_ae, z[:100]))) > 0


@pytest.mark.slow
def test_int8_vae_decoder_within_2pct(tiny_vae, vae, splits):
    rep = vae[1]["decoder_int8"]
    x = splits["test"][0]
    z = tiny_vae.encode(x)  # posterior means
    exported = bce(x, export.LiteRTRunner(vae[0] / rep["file"])([z])[0])
    keras_float = bce(x, tiny_vae.decode(z).reshape(len(x), -1))
    assert abs(exported - keras_float) / keras_float <= 0.02 and rep["passed"]


@pytest.mark.slow
def test_int8_io_scale_and_zero_point(ae):
    out, r = ae
    rep = r[("decoder", "int8", "int8", None)]
    assert rep["file"] == "decoder_int8_int8io.tflite"
    (inp,), (outp,) = rep["inputs"], rep["outputs"]
    assert inp["dtype"] == "int8" and outp["dtype"] == "int8" and inp["scale"] > 0
    assert outp["scale"] == pytest.approx(1 / 256) and outp["zero_point"] == -128  # sigmoid output
    assert "scale" not in r[("decoder", "int8", "float", None)]["inputs"][0]


@pytest.mark.slow
def test_savedmodel_within_the_float32_bound(tiny_ae, ae, splits, vae, tiny_vae):
    out, r = ae
    assert r["savedmodel"]["max_abs_diff"] <= r["savedmodel"]["max_abs_bound"] and r["savedmodel"]["passed"]
    z = tiny_ae.encode(splits["test"][0][:40])
    got = export.SavedModelRunner(out / "decoder_savedmodel", ["code"], ["image"])([z])[0]
    want = numpy_decoder(tiny_ae, z.astype(np.float64))
    assert np.max(np.abs(got - want)) <= float32_bound(export.prepare(tiny_ae, out=out), "decoder", [want])
    # the SavedModel signature names its outputs too, and the runner returns them in the Keras part's order
    x = splits["test"][0][:40]
    mean, log_var = export.SavedModelRunner(vae[0] / "encoder_savedmodel", ["image"], ["z_mean", "z_log_var"])([x])
    want = tiny_vae.encoder(x)
    bound = float32_bound(export.prepare(tiny_vae, out=vae[0]), "encoder", [want["code"], want["z_log_var"]])
    assert np.max(np.abs(mean - np.asarray(want["code"]))) <= bound
    assert np.max(np.abs(log_var - np.asarray(want["z_log_var"]))) <= bound


# -- signatures: named outputs, in the Keras part's order; fixed batch ---------------------------------------------
def test_signature_outputs_are_named(ae, vae, tiny_vae, splits):
    out, _ = ae
    assert signature_names(out / "decoder_int8.tflite") == (["code"], ["image"])
    assert signature_names(out / "encoder_float32.tflite") == (["image"], ["code"])
    assert signature_names(out / "autoencoder_float32.tflite") == (["image"], ["image"])
    assert signature_names(vae[0] / "encoder_float32.tflite") == (["image"], ["z_log_var", "z_mean"])
    # The signature lists z_log_var first (alphabetical); the runner follows the Keras part: z_mean, z_log_var.
    assert [t["name"] for t in vae[1]["encoder"]["outputs"]] == ["z_mean", "z_log_var"]
    x = splits["test"][0][:30]
    mean, log_var = export.LiteRTRunner(vae[0] / "encoder_float32.tflite")([x])
    want = tiny_vae.encoder(x)
    bound = float32_bound(export.prepare(tiny_vae, out=vae[0]), "encoder", [want["code"], want["z_log_var"]])
    assert np.max(np.abs(mean - np.asarray(want["code"]))) <= bound
    assert np.max(np.abs(log_var - np.asarray(want["z_log_var"]))) <= bound
    assert vae[1]["encoder"]["metric"]["chain"].startswith("exported encoder")
    assert abs(vae[1]["encoder"]["metric"]["relative_diff"]) <= 1e-5  # z_mean, not z_log_var, fed the decoder


def test_fixed_batch_signature(ae, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    out, r = ae
    rep = r[("decoder", "none", "float", 1)]
    assert rep["file"] == "decoder_float32_b1.tflite" and rep["batch"] == 1
    d = Interpreter(model_path=str(out / rep["file"])).get_signature_runner().get_input_details()["code"]
    assert list(d["shape_signature"]) == [1, 4]
    # two inputs, each with batch 1 (the conditional decoder); untrained is enough for float32
    cvae = zoo.create_model("cvae_mnist", hidden_units=[16], latent_dim=3)
    rep = export.to_litert(cvae, "decoder", "none", out=tmp_path, batch=1, timing=False)
    assert [t["shape"] for t in rep["inputs"]] == [[1, 3], [1, 10]] and rep["max_abs_diff"] <= rep["max_abs_bound"]
    assert [t["name"] for t in rep["inputs"]] == ["code", "label_onehot"] and rep["outputs"][0]["shape"] == [1, 784]


def test_builtin_ops_only(ae):
    out, r = ae
    for rep in r.values():
        if rep["format"] != "litert":
            continue
        ops = export.ops_of((out / rep["file"]).read_bytes())
        assert ops == rep["ops"] and "FULLY_CONNECTED" in ops
        assert rep["builtin_only"] and not export.litert.non_builtin(ops)
    assert export.litert.non_builtin({"FULLY_CONNECTED": 1, "CUSTOM:FlexErf": 1}) == ["CUSTOM:FlexErf"]


# -- where files go ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_default_folder_is_under_runs(tiny_ae, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ZOO_MODELS_DIR", str(tmp_path / "models"))
    rep = export.to_litert(tiny_ae, "encoder", "none", timing=False)
    assert Path(rep["path"]) == tmp_path / "runs" / "ae_mnist" / "exports" / "encoder_float32.tflite"
    assert not (tmp_path / "models").exists()
    with pytest.raises(ExportError, match="--publish exports a shipped model"):
        export.to_litert(tiny_ae, "encoder", "none", publish=True, timing=False)


@pytest.mark.slow
def test_cli_publish_writes_into_saved_models_and_says_so(tiny_ae, tmp_path, monkeypatch, capfd):
    from export.__main__ import main

    zoo.registry.save_model(tiny_ae, tmp_path / "models" / "ae_mnist", {"name": "ae_mnist", "family": "autoencoder"})
    monkeypatch.setenv("ZOO_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    assert main(["ae_mnist", "--part", "encoder", "--quantize", "none", "--publish", "--no-latency"]) == 0
    std = capfd.readouterr()
    folder = tmp_path / "models" / "ae_mnist" / "exports"
    assert f"publishing into {folder}" in std.err and f"published {folder / 'export.json'}" in std.out
    manifest = json.loads((folder / "export.json").read_text())
    sha = hashlib.sha256((tmp_path / "models" / "ae_mnist" / "model.keras").read_bytes()).hexdigest()
    assert manifest["source_sha256"] == sha == manifest["artifacts"]["encoder_float32.tflite"]["source_sha256"]
    entry = manifest["artifacts"]["encoder_float32.tflite"]   # max|d| and the bound it was held to, side by side
    assert entry["max_abs_diff"] <= entry["max_abs_bound"] == entry["checks"]["max_abs_diff"]["bound"]
    assert manifest["source"] == "../model.keras" and manifest["commands"][-1].endswith("--publish --no-latency")
    assert not (tmp_path / "runs").exists() and not [p for p in folder.iterdir() if p.name.startswith(".")]
    # the model card README now lists the published file
    assert "`encoder_float32.tflite`" in (folder.parent / "README.md").read_text()


# -- refusals ---------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_missing_part_names_the_parts(tiny_ae, tmp_path, capfd, monkeypatch):
    from export.__main__ import main

    with pytest.raises(ExportError, match="has no 'generator' part; it has: encoder, decoder, autoencoder"):
        export.to_litert(tiny_ae, part="generator", quantize="none", out=tmp_path)
    zoo.registry.save_model(tiny_ae, tmp_path / "tiny")
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    assert main([str(tmp_path / "tiny"), "--part", "classifier"]) == 1
    lines = capfd.readouterr().err.strip().splitlines()
    assert lines == ["error: tiny has no 'classifier' part; it has: encoder, decoder, autoencoder"]


def test_int8_without_data_is_refused(tmp_path):
    # refused before any calibration: an untrained model will do (the trained fixture costs the quick subset)
    job = export.prepare(zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2), out=tmp_path)
    job.data, job.data_note = None, "ZOO_DATA_DIR is set but mnist.npz does not exist"
    with pytest.raises(ExportError, match="int8 calibration of ae_mnist's decoder needs its training data: ZOO_DATA"):
        export.to_litert(None, "decoder", "int8", job=job)


def test_a_file_that_fails_its_checks_replaces_nothing(tiny_ae, ae, tmp_path):
    shutil.copy(ae[0] / "encoder_float32.tflite", tmp_path)
    before = (tmp_path / "encoder_float32.tflite").read_bytes()
    job = export.prepare(tiny_ae, out=tmp_path)

    def broken_metric(runner):
        raise ExportError("the metric failed")

    job.parts["encoder"].metric = broken_metric
    for convert in (lambda: export.to_litert(None, "encoder", "none", job=job),
                    lambda: export.to_saved_model(None, "encoder", job=job)):
        with pytest.raises(ExportError, match="the metric failed"):
            convert()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder_float32.tflite"]  # no temporaries, no manifest
    assert (tmp_path / "encoder_float32.tflite").read_bytes() == before


def test_corrupt_and_truncated_litert_refused(ae, tmp_path):
    out, _ = ae
    good = (out / "decoder_int8.tflite").read_bytes()
    cases = {"half.tflite": good[: len(good) // 2], "tail.tflite": good[:-64], "tiny.tflite": good[:40],
             "garbage.tflite": b"not a flatbuffer at all", "empty.tflite": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ExportError, match=f"{tmp_path / name} (is not a LiteRT model|is corrupt or truncated)"):
            export.load_litert(tmp_path / name)
    with pytest.raises(ExportError, match="does not exist"):
        export.load_litert(tmp_path / "missing.tflite")
    # weights changed in place keep a valid structure: the sha256 in export.json catches them
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(out / "export.json", copy)
    bad = bytearray(good)
    bad[len(bad) // 2: len(bad) // 2 + 64] = bytes(64)
    (copy / "decoder_int8.tflite").write_bytes(bytes(bad))
    with pytest.raises(ExportError, match="decoder_int8.tflite is corrupt or was replaced: its sha256"):
        export.LiteRTRunner(copy / "decoder_int8.tflite")
    # a file that is not the part the caller expects is refused before use
    with pytest.raises(ExportError, match=r"encoder_float32.tflite has signature inputs \['image'\]; expected \['code'\]"):
        export.LiteRTRunner(out / "encoder_float32.tflite", inputs=["code"], outputs=["image"])


def test_corrupt_savedmodel_refused(ae, tmp_path):
    out, _ = ae
    sm = tmp_path / "decoder_savedmodel"
    shutil.copytree(out / "decoder_savedmodel", sm)
    with pytest.raises(ExportError, match=r"has serving_default outputs \['image'\]; expected \['code'\]"):
        export.load_saved_model(sm, ["code"], ["code"])
    data = next((sm / "variables").glob("*.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ExportError, match=f"{sm} is a corrupt or truncated SavedModel"):
        export.load_saved_model(sm)
    (sm / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(ExportError, match=f"{sm} is a corrupt or truncated SavedModel"):
        export.load_saved_model(sm)
    (sm / "saved_model.pb").unlink()
    with pytest.raises(ExportError, match="saved_model.pb is missing"):
        export.load_saved_model(sm)


@pytest.mark.parametrize("content", [b'{"model": "ae_mnist", "artifacts": {"a.tflite": {', b"\xff\xfe\x00",
                                     b'["not", "a", "manifest"]', b'{"model": "ae_mnist", "artifacts": []}'])
def test_corrupt_manifest_refused_and_kept(tiny_ae, ae, tmp_path, content):
    (tmp_path / "export.json").write_bytes(content)
    with pytest.raises(ExportError, match=f"{tmp_path / 'export.json'} is not a readable export manifest"):
        export.to_litert(tiny_ae, "encoder", "none", out=tmp_path, timing=False)
    assert (tmp_path / "export.json").read_bytes() == content and not list(tmp_path.glob("*.tflite"))
    shutil.copy(ae[0] / "decoder_int8.tflite", tmp_path)
    with pytest.raises(ExportError, match="not a readable export manifest"):
        export.LiteRTRunner(tmp_path / "decoder_int8.tflite")


def test_manifest_of_another_model_refused(tiny_vae, ae):
    with pytest.raises(ExportError, match="records exports of 'ae_mnist', not 'vae_mnist'; choose another --out"):
        export.to_litert(tiny_vae, "decoder", "none", out=ae[0])


def test_manifest_records_every_file(ae):
    out, r = ae
    manifest = export.read_manifest(out / "export.json")
    assert set(manifest["artifacts"]) == {rep["file"] for rep in r.values()}
    assert manifest["parts"] == ["encoder", "decoder", "autoencoder"] and manifest["family"] == "autoencoder"
    assert manifest["tolerances"]["max_abs_diff"] == export.validate.MAX_ABS_RULE
    for name, entry in manifest["artifacts"].items():
        path = out / name
        if path.is_file():
            assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert entry["size_bytes"] == path.stat().st_size
    timed = manifest["artifacts"]["decoder_int8.tflite"]["latency_ms_single"]
    assert timed["exported"] > 0 and timed["keras_call"] > 0


def test_cli_usage_errors():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for args, text in ((["ae_mnist", "--quantize", "int4"], "--quantize"),
                       (["ae_mnist", "--quantize", "float16", "--io", "int8"], "--io int8 needs --quantize int8"),
                       (["ae_mnist", "--batch", "0"], "--batch"),
                       (["ae_mnist", "--publish", "--out", "x"], "drop --out")):
        r = subprocess.run([sys.executable, "-m", "export", *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)


# -- the device-side example --------------------------------------------------------------------------------------------
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


def _no_tensorflow_env(tmp_path):
    stub = tmp_path / "stub"
    for name in ("tensorflow", "matplotlib", "keras"):
        (stub / name).mkdir(parents=True, exist_ok=True)
        (stub / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    return dict(os.environ, PYTHONPATH=str(stub))


def _run_example(model, png, env, *extra):
    return subprocess.run([sys.executable, str(EXAMPLE), str(model), str(png), *map(str, extra)], env=env,
                          capture_output=True, text=True, timeout=60, cwd=png.parent)


@pytest.mark.parametrize("name", ["decoder_int8_int8io.tflite", "decoder_int8.tflite", "decoder_float32_b1.tflite"])
def test_example_runs_without_tensorflow(ae, tmp_path, name):
    env = _no_tensorflow_env(tmp_path)
    blocked = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "blocked" in blocked.stderr
    png = tmp_path / "grid.png"
    r = _run_example(ae[0] / name, png, env, "--n", 20, "--cols", 5, "--seed", 1)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    w, h, pixels = _read_png(png)
    assert (w, h) == (5 * 30 + 2, 4 * 30 + 2)
    assert pixels[2:30, 2:30].std() > 0  # a decoded digit, not a blank tile


@pytest.mark.parametrize("example", ["run_decoder.py", "run_generator.py", "play_cartpole.py", "device_checks.py"])
def test_example_imports_only_numpy_litert_stdlib(example):
    # a device has numpy and the LiteRT interpreter, not TensorFlow or the zoo: the examples import the standard
    # library, numpy, ai_edge_litert and their shared checks (Pillow draws the generator's grid, gymnasium is
    # CartPole's environment), nothing else
    import ast
    import sys

    path = EXAMPLE.parent / example
    tree = ast.parse(path.read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    third_party = {m for m in mods if m not in sys.stdlib_module_names}
    allowed = {"numpy", "ai_edge_litert", "device_checks", "export"} | {
        "run_generator.py": {"PIL"}, "play_cartpole.py": {"gymnasium"}}.get(example, set())
    assert third_party <= allowed, third_party
    if example == "run_decoder.py":
        assert "def write_png" in path.read_text()


def _one_line_refusal(r):
    lines = r.stderr.strip().splitlines()
    return r.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr


def test_example_refuses_what_is_not_a_decoder(ae, vae, tmp_path):
    env = _no_tensorflow_env(tmp_path)
    png = tmp_path / "x.png"
    (tmp_path / "empty.tflite").write_bytes(b"")
    good = (ae[0] / "decoder_int8.tflite").read_bytes()
    (tmp_path / "truncated.tflite").write_bytes(good[: len(good) // 3])
    cases = {ae[0] / "encoder_float32.tflite": "not a decoder: expected inputs 'code'",
             vae[0] / "encoder_float32.tflite": "found inputs ['image'] and outputs ['z_log_var', 'z_mean']",
             ae[0] / "export.json": "not a LiteRT model",
             tmp_path / "empty.tflite": "not a LiteRT model",
             tmp_path / "truncated.tflite": "corrupt or truncated",
             tmp_path / "missing.tflite": "cannot read it"}
    for model, text in cases.items():
        r = _run_example(model, png, env)
        assert _one_line_refusal(r) and text in r.stderr and str(model) in r.stderr, (model, r.stderr)
    assert not png.exists()


@pytest.mark.slow
def test_example_survives_byte_mutations(ae, tmp_path):
    """50 seeded mutations of a real decoder file: each run writes a well-formed PNG (exit 0) or refuses in one
    line (exit 1); no traceback, no crash, no other exit status."""
    good = (ae[0] / "decoder_float32.tflite").read_bytes()
    rng = np.random.default_rng(0)
    env = _no_tensorflow_env(tmp_path)
    jobs = []
    for i in range(50):
        bad = bytearray(good)
        # half anywhere (mostly weights), half in the first and last 4 kB (flatbuffer tables, shapes, signature)
        for _ in range(int(rng.integers(1, 9))):
            pos = int(rng.integers(0, len(bad))) if i % 2 else int(rng.choice(
                [rng.integers(0, 4096), len(bad) - 1 - rng.integers(0, 4096)]))
            bad[pos] = (bad[pos] + int(rng.integers(1, 256))) % 256
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(bytes(bad))
        jobs.append((path, tmp_path / f"m{i}.png"))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda j: (j, _run_example(j[0], j[1], env, "--n", 6, "--cols", 3)), jobs))
    outcomes = {0: 0, 1: 0}
    for (model, png), r in results:
        if r.returncode == 0:
            w, h, pixels = _read_png(png)
            assert (w, h) == (3 * 30 + 2, 2 * 30 + 2) and r.stderr == "", (model, r.stderr)
        else:
            assert _one_line_refusal(r), (model, r.returncode, r.stderr[-400:])
        outcomes[r.returncode] += 1
    assert outcomes[1] >= 5, outcomes  # the structural mutations are caught, not just survived


def test_example_refuses_every_mutation_of_a_shipped_decoder_beside_its_manifest(tmp_path):
    """Beside its export.json, a decoder with any byte changed is refused in one line: a weight flip that would
    still run is caught by the recorded sha256."""
    shipped = ROOT / "saved_models" / "vae_mnist" / "exports"
    env = _no_tensorflow_env(tmp_path)
    rng = np.random.default_rng(1)
    for i in range(3):
        folder = tmp_path / f"copy{i}"
        shutil.copytree(shipped, folder)
        target = folder / "decoder_int8.tflite"
        data = bytearray(target.read_bytes())
        pos = int(rng.integers(len(data) // 4, 3 * len(data) // 4))  # weights, not tables: it would still run
        data[pos] ^= 0x01
        target.write_bytes(bytes(data))
        r = _run_example(target, tmp_path / f"o{i}.png", env)
        assert r.returncode == 1 and _one_line_refusal(r) and "sha256" in r.stderr, r.stderr


# -- shipped exports -------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not SHIPPED, reason="no exports shipped in saved_models/")
@pytest.mark.parametrize("manifest_path", SHIPPED, ids=lambda p: p.parent.parent.name)
@pytest.mark.slow
def test_shipped_exports_match_the_shipped_model(manifest_path):
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    sha = hashlib.sha256((folder.parent / "model.keras").read_bytes()).hexdigest()
    stale = f"{folder} is stale: model.keras changed since export; re-run {manifest.get('commands')}"
    assert manifest["source_sha256"] == sha, stale
    assert manifest["artifacts"] and all(a["source_sha256"] == sha for a in manifest["artifacts"].values()), stale
    assert sorted(p.name for p in folder.iterdir() if p.name != "export.json") == sorted(manifest["artifacts"])
    job = export.prepare(str(folder.parent), out=folder)  # nothing is written: the folder only names the exports
    for name, entry in manifest["artifacts"].items():
        path = folder / name
        assert entry["passed"] and entry["quantize"] == "int8" and entry["builtin_only"], name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        runner = export.LiteRTRunner(path)  # checks ops, signature names and sha256 before use
        part = job.parts[entry["part"]]
        assert runner.output_order == export.parts.output_names(part.model)
        m = part.metric(runner)  # the task figure through the shipped file, measured again
        assert abs(m["relative_diff"]) <= part.metric_bound, (name, m)
        assert m["exported"] == pytest.approx(entry["metric"]["exported"], abs=1e-3), name
