"""The export's input contract (export.json's "input") and the device examples' checks (device_checks.py shared by
run_decoder.py, run_generator.py and play_cartpole.py): the probes of issue #30.

Bad files are made from tiny converted models by editing their flatbuffer with the LiteRT schema (ai_edge_litert's
own object API): a custom op, a bad tensor index, an int32 input, an int8 input with scale 0, a (N, 2^27) code, a
flipped weight byte beside its export.json. The examples run in this process (main(argv), exit status and stderr
read back), except one run in a fresh process with TensorFlow unimportable."""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, needs_mnist

import export
from export import contract
from export.examples import device_checks as dc
from export.examples import play_cartpole, run_decoder, run_generator
from export.parts import ExportError

EXAMPLES = ROOT / "export" / "examples"


# -- tiny files ------------------------------------------------------------------------------------------------------
def _convert(folder, name, inputs, output, width, activation="sigmoid"):
    import keras

    from export.litert import convert

    keras.utils.set_random_seed(0)
    ins = [keras.Input((w,), name=n) for n, w in inputs]
    x = ins[0] if len(ins) == 1 else keras.layers.Concatenate()(ins)
    h = keras.layers.Dense(width, activation=activation)(x)
    model = keras.Model(ins if len(ins) > 1 else ins[0], {output: h}, name=name)
    return convert(model, folder / f"{name}.tflite")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny float32 files, converted by the exporter, with no export.json beside them."""
    folder = tmp_path_factory.mktemp("tiny_files")
    return {"decoder": _convert(folder, "decoder", [("code", 4)], "image", 784),
            "conditional": _convert(folder, "conditional", [("code", 4), ("label_onehot", 3)], "image", 784),
            "qnet2": _convert(folder, "qnet2", [("observation", 2)], "q_values", 2, None),
            "qnet4": _convert(folder, "qnet4", [("observation", 4)], "q_values", 2, None),
            "qnet3": _convert(folder, "qnet3", [("observation", 4), ("b", 1), ("c", 1)], "q_values", 2, None)}


def craft(src, dst, change):
    """dst: src's flatbuffer with change(model, subgraph 0) applied (schema object API), as a device would get it."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(src.read_bytes(), 0))
    change(model, model.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(bytes(builder.Output()))
    return dst


def custom_op(m, sg):
    code = m.operatorCodes[sg.operators[-1].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = 32    # BuiltinOperator.CUSTOM
    code.customCode = b"ZooSecretOp"


def bad_node_index(m, sg):
    sg.operators[-1].outputs = np.array([99], np.int32)


def signature_to_intermediate(m, sg):
    """The signature's input names a tensor the graph computes: it loads, and fails only when fed."""
    m.signatureDefs[0].inputs[0].tensorIndex = int(sg.operators[0].outputs[0])


def int32_input(m, sg):
    sg.tensors[sg.inputs[0]].type = 2     # TensorType.INT32


def int8_scale_zero(m, sg):
    from ai_edge_litert import schema_py_generated as schema

    t = sg.tensors[sg.inputs[0]]
    t.type = 9                            # TensorType.INT8
    t.quantization = schema.QuantizationParametersT()
    t.quantization.scale, t.quantization.zeroPoint = [0.0], [0]


def huge_code(m, sg):
    t = sg.tensors[sg.inputs[0]]
    t.shape, t.shapeSignature = np.array([1, 2 ** 27], np.int32), np.array([-1, 2 ** 27], np.int32)


def write_record(path, **fields):
    """An export.json beside `path` recording it as the exporter does (sha256, signature tensors)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()

    def tensors(details):
        return [{"name": n, "dtype": np.dtype(d["dtype"]).name, "shape": [int(s) for s in d["shape_signature"]]}
                for n, d in details.items()]

    entry = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
             "inputs": tensors(runner.get_input_details()), "outputs": tensors(runner.get_output_details()), **fields}
    (path.parent / "export.json").write_text(json.dumps({"model": "tiny", "artifacts": {path.name: entry}}))
    return entry


def run_example(module, capfd, *argv):
    """(exit status, stderr lines) of an example's main in this process."""
    capfd.readouterr()
    code = module.main([str(a) for a in argv])
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    return code, err


def refused(module, capfd, argv, text, status=1):
    code, err = run_example(module, capfd, *argv)
    assert code == status and len(err) == 1 and text in err[0] and "Traceback" not in err[0], (code, err)
    return err[0]


# -- the contract export.json records --------------------------------------------------------------------------
def test_contract_kinds_from_the_keras_part():
    import keras

    ids = keras.Input((), dtype="int32", name="word_id")
    words = keras.Model(ids, {"vector": keras.layers.Embedding(37, 3)(ids)})
    image, onehot, code = (keras.Input((w,), name=n) for n, w in (("image", 6), ("label_onehot", 3), ("code", 2)))
    mixed = keras.Model([image, onehot, code], {"y": keras.layers.Concatenate()([image, onehot, code])})
    rng = np.random.default_rng(0)
    sample = [rng.random((20, 6)), np.eye(3)[rng.integers(0, 3, 20)], rng.normal(size=(20, 2)) * 3]
    (w,) = contract.input_contract(words, [np.arange(20)])
    assert (w["kind"], w["range"], w["dtype"], w["shape"]) == ("ids", [0, 36], "int32", [-1])
    got = {c["name"]: c for c in contract.input_contract(mixed, sample, batch=8)}
    assert (got["image"]["kind"], got["image"]["range"], got["image"]["shape"]) == ("image", [0, 1], [8, 6])
    assert "x = p / 255" in got["image"]["from_raw"]
    assert (got["label_onehot"]["kind"], got["label_onehot"]["range"]) == ("one_hot", [0, 1])
    assert (got["code"]["kind"], got["code"]["range"]) == ("values", [None, None])
    assert got["code"]["observed"] == pytest.approx([sample[2].min(), sample[2].max()])
    # an "image" input fed values outside [0, 1] by its own part is not claimed to take [0, 1]
    assert contract.input_contract(mixed, [sample[0] * 255, *sample[1:]])[0]["kind"] == "values"


def lean_job(model, out):
    """export.prepare's job without the parts' task metrics (10,000 test images each): the contract and the
    manifest do not depend on them."""
    job = export.prepare(model, out=out)
    job.parts = {k: dataclasses.replace(p, metric=None) for k, p in job.parts.items()}
    return job


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny autoencoder's encoder (int8 in and out) and decoder (float32), through export.to_litert."""
    if not (os.environ.get("ZOO_DATA_DIR") and os.path.isfile(os.path.join(os.environ["ZOO_DATA_DIR"], "mnist.npz"))):
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    import keras

    import zoo

    keras.utils.set_random_seed(0)
    model = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=4)
    out = tmp_path_factory.mktemp("contract_exports")
    job = lean_job(model, out)
    reports = {"encoder": export.to_litert(None, "encoder", "int8", "int8", job=job, timing=False,
                                           representative_size=200),
               "decoder": export.to_litert(None, "decoder", "none", job=job, timing=False)}
    return model, out, reports


@needs_mnist
@pytest.mark.slow
def test_int8_input_contract_is_the_files_quantization_and_the_raw_recipe_works(exported):
    from ai_edge_litert.interpreter import Interpreter

    import zoo

    model, out, reports = exported
    manifest = json.loads((out / "export.json").read_text())
    enc = manifest["artifacts"]["encoder_int8_int8io.tflite"]
    (c,) = enc["input"]
    detail = Interpreter(model_path=str(out / enc["file"])).get_signature_runner().get_input_details()["image"]
    scale, zero = detail["quantization"]
    assert (c["name"], c["dtype"], c["shape"], c["kind"], c["range"]) == ("image", "int8", [-1, 784], "image", [0, 1])
    assert (c["scale"], c["zero_point"]) == (pytest.approx(scale, rel=1e-7), zero)
    assert enc["inputs"][0]["scale"] == c["scale"]   # the older field is kept
    assert c["quantized_range"] == pytest.approx([scale * (-128 - zero), scale * (127 - zero)])
    # A device following the recorded recipe from raw uint8 pixels feeds exactly what the float path feeds.
    pixels = zoo.data.load("mnist")[1][0][:32].reshape(32, 784)
    q = np.clip(np.round(pixels / 255 / c["scale"]) + c["zero_point"], -128, 127).astype(np.int8)
    direct = Interpreter(model_path=str(out / enc["file"])).get_signature_runner()(image=q)["code"]
    out_scale, out_zero = Interpreter(model_path=str(out / enc["file"])).get_signature_runner().get_output_details()[
        "code"]["quantization"]
    got = export.LiteRTRunner(out / enc["file"])([pixels / 255])[0]
    assert np.array_equal(got, (direct.astype(np.float32) - out_zero) * np.float32(out_scale))
    (d,) = manifest["artifacts"]["decoder_float32.tflite"]["input"]
    assert (d["dtype"], d["kind"], d["range"]) == ("float32", "values", [None, None])
    assert reports["decoder"]["input"] == manifest["artifacts"]["decoder_float32.tflite"]["input"]


@needs_mnist
@pytest.mark.slow
def test_raw_pixels_are_refused_where_the_contract_says_0_to_1(exported, tmp_path, capfd):
    import zoo

    _, out, _ = exported
    pixels = zoo.data.load("mnist")[1][0][:8].reshape(8, 784).astype(np.float32)
    runner = export.LiteRTRunner(out / "encoder_int8_int8io.tflite")
    assert np.all(np.isfinite(runner([pixels / 255])[0]))
    with pytest.raises(ExportError, match=r"'image' expects values in \[0, 1\] .*got values in \[0, 255\] "
                                          r"\(raw 0\.\.255 pixels\? divide by 255\)"):
        runner([pixels])
    spec = json.loads((out / "export.json").read_text())["artifacts"]["encoder_int8_int8io.tflite"]["input"][0]
    with pytest.raises(dc.Refused) as e:
        dc.check_values("image", pixels, spec)
    assert "\n" not in str(e.value) and "p / 255" in str(e.value)
    # the decoder example refuses codes outside a recorded range in one line, as it would raw pixels
    folder = tmp_path / "ranged"
    folder.mkdir()
    shutil.copy(out / "decoder_float32.tflite", folder)
    write_record(folder / "decoder_float32.tflite", input=[{"name": "code", "kind": "image", "range": [0, 1],
                                                            "from_raw": "x = p / 255"}])
    refused(run_decoder, capfd, [folder / "decoder_float32.tflite", folder / "a.png"],
            "input 'code' expects values in [0, 1] (x = p / 255)")
    assert not (folder / "a.png").exists()


# -- the device examples' checks ---------------------------------------------------------------------------------
def test_a_flipped_weight_byte_is_refused_beside_export_json_by_every_example(files, tmp_path, capfd):
    for module, key, argv in ((run_generator, "decoder", ["g.png"]), (run_decoder, "decoder", ["d.png"]),
                              (play_cartpole, "qnet2", ["--episodes", "1"])):
        folder = tmp_path / module.__name__.rsplit(".", 1)[-1]
        folder.mkdir()
        path = Path(shutil.copy(files[key], folder))
        write_record(folder / path.name)
        data = bytearray((folder / path.name).read_bytes())
        data[len(data) // 2] ^= 0x01      # inside the weights: the file still loads and runs
        (folder / path.name).write_bytes(bytes(data))
        refused(module, capfd, [folder / path.name, *[folder / a if a.endswith(".png") else a for a in argv]],
                "its sha256 differs from the one recorded")


def test_recorded_details_must_match_the_file(files, tmp_path, capfd):
    path = Path(shutil.copy(files["decoder"], tmp_path))
    entry = write_record(path)
    entry["inputs"][0]["shape"] = [-1, 8]
    (tmp_path / "export.json").write_text(json.dumps({"artifacts": {path.name: entry}}))
    refused(run_generator, capfd, [path, tmp_path / "g.png"], "'code' has shape [-1, 4]; its export.json records "
            "[-1, 8]")
    entry["inputs"].append({"name": "label_onehot", "dtype": "float32", "shape": [-1, 3]})
    (tmp_path / "export.json").write_text(json.dumps({"artifacts": {path.name: entry}}))
    refused(run_decoder, capfd, [path, tmp_path / "d.png"], "are not the ['code', 'label_onehot'] its export.json")
    (tmp_path / "export.json").write_text('{"artifacts": {')
    refused(play_cartpole, capfd, [path], "is unreadable or corrupt")


@pytest.mark.parametrize("change, text", [
    (custom_op, "uses ops a device's LiteRT runtime lacks: CUSTOM:ZooSecretOp"),
    (bad_node_index, "the LiteRT interpreter refused it (Invalid tensor index 99"),
    (int32_input, "'code' is int32; this example takes float32 or int8"),
    (int8_scale_zero, "'code' is int8 with quantization scale 0"),
    (huge_code, "needs 512 MB of tensors, more than the 256 MB"),
], ids=["custom_op", "bad_tensor_index", "int32_input", "int8_scale_0", "huge_code"])
def test_crafted_files_are_refused_in_one_line(files, tmp_path, capfd, change, text):
    bad = craft(files["decoder"], tmp_path / "bad.tflite", change)
    for module, argv in ((run_decoder, [tmp_path / "d.png"]), (run_generator, [tmp_path / "g.png"])):
        refused(module, capfd, [bad, *argv], text)
    assert not list(tmp_path.glob("*.png"))
    qnet = craft(files["qnet4"], tmp_path / "q.tflite", change)
    refused(play_cartpole, capfd, [qnet, "--episodes", "1"], text.replace("'code'", "'observation'"))


def test_runtime_failures_are_one_line_and_exit_2_traceback_only_with_debug(files, tmp_path, capfd):
    bad = craft(files["decoder"], tmp_path / "fed.tflite", signature_to_intermediate)
    for module in (run_decoder, run_generator):
        line = refused(module, capfd, [bad, tmp_path / "x.png"], "running it failed", status=2)
        assert line.startswith(f"error: {bad}: ")
        with pytest.raises(dc.RunFailed):
            module.main([str(bad), str(tmp_path / "x.png"), "--debug"])
    assert not list(tmp_path.glob("*.png"))
    # memory running out anywhere in the work is the same one line and exit 2
    assert dc.exit_status(MemoryError(), False, "m.tflite") == dc.EXIT_FAILED
    assert capfd.readouterr().err == "error: m.tflite: running it failed: out of memory (MemoryError)\n"


def test_unbounded_and_truncated_files_are_refused_before_reading(files, tmp_path, capfd):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:
        f.truncate(dc.MAX_FILE_BYTES + 1)    # sparse: nothing is written, and nothing may be read
    refused(run_generator, capfd, [big, tmp_path / "g.png"], f"more than the {dc.MAX_FILE_BYTES >> 20} MB")
    refused(run_generator, capfd, ["/dev/zero", tmp_path / "g.png"], "it is not a regular file")
    refused(play_cartpole, capfd, ["/dev/zero"], "it is not a regular file")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(files["decoder"].read_bytes()[:1000])
    refused(play_cartpole, capfd, [cut], "corrupt or truncated")


def test_cartpole_refuses_networks_of_another_shape(files, tmp_path, capfd):
    refused(play_cartpole, capfd, [files["qnet2"], "--episodes", "1"],
            "takes observations of width 2; CartPole-v1 gives 4")
    refused(play_cartpole, capfd, [files["qnet3"]], "got ['b', 'c', 'observation'] -> ['q_values']")
    refused(run_generator, capfd, [files["qnet3"], tmp_path / "g.png"], "it is not a generator")
    refused(play_cartpole, capfd, [craft(files["qnet2"], tmp_path / "c.tflite", custom_op)], "CUSTOM:ZooSecretOp")


def test_conditional_generator_and_decoder_still_run(files, tmp_path, capfd):
    """The checks pass a sound file: a conditional 'generator' draws its grid, labels one-hot as recorded."""
    code, err = run_example(run_generator, capfd, files["conditional"], tmp_path / "g.png", "--labels", "0,1,2")
    assert code == 0 and err == [] and (tmp_path / "g.png").stat().st_size > 0
    code, err = run_example(run_decoder, capfd, files["decoder"], tmp_path / "d.png", "--n", 3)
    assert code == 0 and err == []
    refused(run_generator, capfd, [files["conditional"], tmp_path / "h.png", "--labels", "5"],
            "labels must be in [0, 2]")


def test_cartpole_example_checks_without_tensorflow(files, tmp_path):
    """As a script on a device: device_checks is found beside it and TensorFlow is never imported."""
    stub = tmp_path / "stub"
    for name in ("tensorflow", "keras", "zoo", "export"):
        (stub / name).mkdir(parents=True)
        (stub / name / "__init__.py").write_text(f"raise ImportError('{name} is not on the device')\n")
    r = subprocess.run([sys.executable, str(EXAMPLES / "play_cartpole.py"), str(files["qnet2"])],
                       env=dict(os.environ, PYTHONPATH=str(stub)), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"play_cartpole: error: cannot use {files['qnet2']}: the Q-network takes observations of width 2; "
        "CartPole-v1 gives 4"], r.stderr


# -- probe 13: the manifest and the files it describes ----------------------------------------------------------
def _fail_manifest_writes(monkeypatch):
    from export import manifest

    def no_space(path, obj):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(manifest.zio, "write_json_atomic", no_space)


@needs_mnist
@pytest.mark.slow
def test_a_failed_manifest_write_leaves_no_unrecorded_file(exported, tmp_path, monkeypatch, capfd):
    from export.__main__ import main
    from zoo import registry

    model, out, _ = exported
    registry.save_model(model, tmp_path / "tiny_ae")
    fresh = tmp_path / "fresh"
    _fail_manifest_writes(monkeypatch)
    capfd.readouterr()
    code = main([str(tmp_path / "tiny_ae"), "--part", "decoder", "--out", str(fresh), "--no-latency"])
    err = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error")]
    assert code == 1 and err == [f"error: cannot write {fresh / 'export.json'}: No space left on device; "
                                 "decoder_float32.tflite was taken back out (the previous one, if any, is back), so "
                                 "nothing unrecorded is left"], err
    assert not fresh.exists() or list(fresh.iterdir()) == []
    # over an earlier export: the file it records and the record stay as they were
    again = tmp_path / "again"
    shutil.copytree(out, again)
    (again / "decoder_float32.tflite").write_bytes(b"the earlier file")   # told apart from a new conversion
    before = {p.name: p.read_bytes() for p in again.iterdir()}
    with pytest.raises(ExportError, match="No space left on device; decoder_float32.tflite was taken back out"):
        export.to_litert(None, "decoder", "none", job=lean_job(model, again), timing=False)
    assert {p.name: p.read_bytes() for p in again.iterdir()} == before
