"""Defects found by adversarial probes, each pinned: a malformed card, an archive that inflates without bound, an
unbounded prompt, a subnormal temperature, out-of-range character ids, a huge query vector, an absurd noise level,
and buffers (persistent chains, a Hopfield matrix) that escaped the size bound. Every refusal is one line."""

import json
import re
import tempfile
import time
import warnings
import zipfile

import numpy as np
import pytest

import zoo
from zoo import checks, io, registry
from zoo.errors import ZooError
from zoo.families import energy, recurrent, wordvec
from zoo.layers import GaussianNoise, MaskingNoise, SaltAndPepperNoise, make_noise

TINY_AE = {"hidden_units": [8], "latent_dim": 2}


def one_line(excinfo):
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


# -- 1. a malformed card.json ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("{}", r'card.json is not a model card: expected a JSON object with a string "name", got an object without one'),
    ("[1, 2]", r'card.json is not a model card: expected a JSON object with a string "name", got a list'),
    ('{"name": ["ae_mnist"]}', r'expected a JSON object with a string "name", got "name": \[\'ae_mnist\'\]'),
    ('{"name": "ae_mnist", "metrics": [1]}', r'card.json is not a model card: its "metrics" must be a JSON object'),
    ("[" * 100_000 + "]" * 100_000, r"card.json is not a model card: its JSON is nested too deeply"),
], ids=["empty object", "list", "list-valued name", "list-valued metrics", "deep nesting"])
def test_a_malformed_card_is_one_line(tmp_path, text, message):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "card.json").write_text(text)
    with pytest.raises(ZooError, match=message) as e:
        zoo.model_card(folder)
    one_line(e)


def test_a_well_formed_card_still_reads(tmp_path):
    folder = tmp_path / "m"
    io.write_json_atomic(folder / "card.json", {"name": "m", "metrics": {"accuracy": 0.5}})
    assert zoo.model_card(folder) == {"name": "m", "metrics": {"accuracy": 0.5}}


# -- 2. an archive's member count and total size -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return registry.save_model(zoo.create_model("ae_mnist", **TINY_AE), tmp_path_factory.mktemp("tiny") / "m")


def _with_extra_members(source, path, add):
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        add(zout)
    return path


def test_the_shipped_archives_are_well_inside_the_bounds():
    for path in registry.saved_models_dir().glob("*/model.keras"):
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        assert len(infos) <= io.MAX_ARCHIVE_MEMBERS // 8
        assert sum(i.file_size for i in infos) <= io.MAX_ARCHIVE_BYTES // 8


@pytest.mark.parametrize("extra, message", [
    # 3 members + 64: over the bound of 64 members, counted from the parsed directory
    (64, r"many.keras has \d+ members; a model archive holds at most 64"),
    # thousands of members: the directory's size alone refuses them, before zipfile parses one entry
    (5_000, r"many.keras: its zip directory is [\d,]+ bytes \(limit 65,536\)"),
])
def test_an_archive_with_too_many_members_is_refused(tmp_path, tiny_folder, extra, message):
    def add(zf):
        for i in range(extra):
            zf.writestr(f"assets/padding_{i:06d}.bin", b"x")
    path = _with_extra_members(tiny_folder / "model.keras", tmp_path / "many.keras", add)
    with pytest.raises(ZooError, match=message) as e:
        zoo.load(path)
    one_line(e)


def test_an_archive_inflating_past_the_total_bound_is_refused_before_extracting(tmp_path, tiny_folder, monkeypatch):
    chunk = bytes(1 << 20)

    def add(zf):
        # two members of 140 MiB of zeros, each under the old 1 GiB per-member bound, together past the total
        for k in range(2):
            with zf.open(f"assets/zeros_{k}.bin", "w", force_zip64=True) as f:
                for _ in range(140):
                    f.write(chunk)
    path = _with_extra_members(tiny_folder / "model.keras", tmp_path / "bomb.keras", add)
    assert path.stat().st_size < 2_000_000
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"bomb.keras: its members inflate to [\d,]+ bytes, above the limit of "
                                       r"[\d,]+; refused before extracting anything") as e:
        zoo.load(path)
    one_line(e)
    assert time.perf_counter() - start < 5
    assert list(scratch.iterdir()) == []
    assert 280 << 20 > io.MAX_ARCHIVE_BYTES


# -- 3-5. character models: prompt length, temperature, ids -----------------------------------------------------
@pytest.fixture(scope="module")
def charlm():
    return recurrent.CharLM(cell="lstm", embedding_dim=4, units=8, sequence_length=16)


def test_a_prompt_past_the_bound_is_refused_at_once(charlm):
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"prompt has 120,000 characters; at most [\d,]+") as e:
        charlm.generate("a" * 120_000, 5, seed=0)
    one_line(e)
    assert time.perf_counter() - start < 1
    assert charlm.generate("ab" * 100, 5, seed=0).startswith("ab" * 100)   # a long-ish prompt still works


@pytest.mark.parametrize("temperature", [5e-324, 1e-300, 1e-6])
def test_a_tiny_positive_temperature_samples_the_most_likely_character(charlm, temperature):
    # softmax(logits / T) for T -> 0 puts all its mass on the argmax: what greedy decoding takes
    greedy = charlm.generate("ROMEO:", 30, greedy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow or invalid-value warnings on the way
        assert charlm.generate("ROMEO:", 30, temperature=temperature, seed=0) == greedy


def test_the_temperature_is_still_bounded(charlm):
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e3):
        with pytest.raises(ZooError, match="temperature"):
            charlm.generate("a", 3, temperature=bad)


@pytest.mark.parametrize("ids, message", [
    ([-1], r"character ids must lie in 0\.\.64 \(the model.s 65-character vocabulary\), got range \[-1, -1\]"),
    ([0, 65], r"character ids must lie in 0\.\.64 \(the model.s 65-character vocabulary\), got range \[0, 65\]"),
    ([1.5], "character ids must be integers"),
    ([True], "character ids must be integers"),
    ([[1, 2]], r"expected a sequence of character ids, got shape \(1, 2\)"),
])
def test_decode_refuses_ids_outside_the_vocabulary(charlm, ids, message):
    with pytest.raises(ZooError, match=message) as e:
        charlm.decode(ids)
    one_line(e)


def test_decode_still_decodes(charlm):
    assert charlm.decode([]) == ""
    assert charlm.decode(np.array([0, 1, 64], np.int32)) == charlm.vocabulary[0] + charlm.vocabulary[1] + "z"
    assert charlm.decode(charlm.encode("ROMEO: ")) == "ROMEO: "


# -- 6. a huge or tiny query vector ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vectors_model():
    words = [f"word{i}" for i in range(40)]
    model = wordvec.Word2Vec(vocabulary=words, counts=list(range(100, 60, -1)), dim=5, window=2)
    model.input_vectors.embeddings.assign(np.random.default_rng(3).normal(size=(40, 5)).astype(np.float32))
    return model


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-200, 1e-300])
def test_a_query_vector_ranks_by_its_direction_at_any_scale(vectors_model, scale):
    direction = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    unit = vectors_model.most_similar(direction, topn=10)
    scaled = vectors_model.most_similar(direction / np.abs(direction).max() * scale, topn=10)
    assert [w for w, _ in scaled] == [w for w, _ in unit]
    assert np.allclose([c for _, c in scaled], [c for _, c in unit])
    assert abs(unit[0][1]) > 0.5


@pytest.mark.parametrize("value", [1e200, np.finfo(np.float64).max, 1e-200, 5e-324])
def test_a_uniform_query_vector_ranks_like_the_ones_vector(vectors_model, value):
    assert vectors_model.most_similar(np.full(5, value), topn=10) == vectors_model.most_similar(np.ones(5), topn=10)


# -- 7. the noise level of a denoising autoencoder ---------------------------------------------------------------
@pytest.mark.parametrize("noise, message", [
    ([["gaussian", 1e30]], r"gaussian noise stddev must be <= 10\.0, got 1e\+30"),
    ([["gaussian", 0.5], ["masking", 1.5]], r"masking noise rate must be <= 1\.0, got 1\.5"),
    ([["salt_and_pepper", -0.1]], r"salt_and_pepper noise rate must be >= 0\.0, got -0\.1"),
    ([["gaussian", float("nan")]], r"gaussian noise stddev must be a finite number"),
    ([["speckle", 0.1]], r"noise kind must be one of gaussian, masking, salt_and_pepper, got 'speckle'"),
    ([["gaussian"]], r"noise: expected \(kind, level\) pairs"),
    ("gaussian", r"noise: expected \(kind, level\) pairs"),
])
def test_an_absurd_noise_level_is_refused_at_construction(noise, message):
    with pytest.raises(ZooError, match=message) as e:
        zoo.create_model("dae_mnist", hidden_units=[8], latent_dim=2, noise=noise)
    one_line(e)


def test_the_noise_layers_share_the_bounds():
    for make in (lambda: GaussianNoise(1e30), lambda: MaskingNoise(2.0), lambda: SaltAndPepperNoise(-1.0),
                 lambda: make_noise("gaussian", 11.0)):
        with pytest.raises(ZooError):
            make()
    assert GaussianNoise(10.0).stddev == 10.0 and MaskingNoise(1.0).rate == 1.0
    assert zoo.create_model("dae_mnist", hidden_units=[8], latent_dim=2).get_config()["noise"][0] == ["gaussian", 0.25]


# -- 8. buffers a config implies count toward the size bound -----------------------------------------------------
def test_the_rbm_estimate_counts_its_chains_and_buffers():
    model = energy.RBM(visible=6, hidden=4, num_chains=3)
    assert energy.RBM.parameter_count(model.get_config()) == model.count_params_unique()


@pytest.mark.parametrize("config", [dict(visible=100_000, hidden=1, num_chains=100_000),
                                    dict(num_chains=100_000)], ids=["10^10 chain values", "78 million"])
def test_rbm_chains_past_the_bound_are_refused_by_create_model(config):
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"implies [\d,]+ parameters, above the limit of 50,000,000") as e:
        zoo.create_model("rbm_mnist", **config)
    one_line(e)
    assert time.perf_counter() - start < 5


def test_rbm_chains_past_the_bound_are_refused_from_a_file(tmp_path):
    folder = registry.save_model(energy.RBM(visible=6, hidden=4, num_chains=3), tmp_path / "rbm")
    with zipfile.ZipFile(folder / "model.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"].update(visible=100_000, num_chains=100_000)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(folder / "model.keras", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    with pytest.raises(ZooError, match=r"model.keras: its config implies 10,00\d,\d{3},\d{3} parameters, above the "
                                       r"limit of 50,000,000; refused before allocating anything") as e:
        zoo.load(folder)
    one_line(e)


def test_rbm_ais_chains_past_the_bound_are_refused():
    with pytest.raises(ZooError, match=r"ais_chains") as e:
        energy.RBM(visible=1000, hidden=1000, ais_chains=100_000)
    one_line(e)


def test_a_hopfield_matrix_past_the_bound_is_refused_before_allocating():
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"HopfieldNetwork\(100000\) implies 10,000,100,000 values, above the limit "
                                       r"of 50,000,000") as e:
        energy.HopfieldNetwork(100_000)
    one_line(e)
    assert time.perf_counter() - start < 1
    assert energy.HopfieldNetwork(200).n == 200
    assert checks.budget(checks.MAX_PARAMETERS, "that") == checks.MAX_PARAMETERS
    with pytest.raises(ZooError, match=r"^that implies 50,000,001 values, above the limit of 50,000,000"):
        checks.budget(checks.MAX_PARAMETERS + 1, "that")


# -- 9. the weights file's datasets: declared shapes bounded before Keras reads any -------------------------------
def _with_weights(source, path, change):
    """A copy of the archive `source` whose model.weights.h5 went through change(h5py.File) first."""
    import io as stdio

    import h5py

    with zipfile.ZipFile(source) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    buffer = stdio.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        change(f)
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for name, blob in members.items():
            zout.writestr(name, blob)
    return path


def _kernel_path(f):
    names = []
    f.visititems(lambda name, item: names.append(name) if getattr(item, "shape", None) == (784, 8) else None)
    assert len(names) == 1, names
    return names[0]


def _replace(f, name, **dataset):
    del f[name]
    f.create_dataset(name, **dataset)


@pytest.mark.parametrize("dataset, message", [
    # the probe's file: a kernel declared (1, 10^9), chunked and never written, a few bytes on disk. The tiny
    # autoencoder 784-8-2-8-784 has 784*8+8 + 8*2+2 + 2*8+8 + 8*784+784 = 13,378 parameters.
    (dict(shape=(1, 10 ** 9), dtype="f4", chunks=(1, 1024)),
     r"declares shape \(1, 1000000000\) float32 \(1,000,000,000 values\); expected at most the 13,378 "
     r"parameters the model's config implies in all; refused before reading it"),
    # within the parameters, declared but never written: would read 48 kB of nothing
    (dict(shape=(12, 1000), dtype="f4", chunks=(1, 100)),
     r"declares shape \(12, 1000\) float32 \(48,000 bytes\) but stores 0; expected every value written"),
    # compressed: a bomb of zeros inside a small member
    (dict(data=np.zeros((784, 8), np.float32), compression="gzip"),
     r"declares shape \(784, 8\) float32 \(25,088 bytes\) but stores \d+; expected every value written"),
    (dict(data=np.array([b"x" * 8] * 3)), r"declares shape \(3,\) \|S8; expected a plain array of numbers"),
], ids=["declared 10^9, never written", "declared, never written", "compressed", "strings"])
def test_a_weights_dataset_is_bounded_before_keras_reads_it(tmp_path, tiny_folder, monkeypatch, dataset, message):
    import keras

    name = None

    def change(f):
        nonlocal name
        name = _kernel_path(f)
        _replace(f, name, **dataset)
    path = _with_weights(tiny_folder / "model.keras", tmp_path / "bad.keras", change)
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: pytest.fail("Keras was handed the file"))
    with pytest.raises(ZooError, match=r"bad.keras: model.weights.h5 dataset ") as e:
        zoo.load(path)
    assert f"dataset {name} declares shape" in one_line(e)
    assert re.search(message, str(e.value)), str(e.value)


def test_a_small_misshapen_weight_is_refused_with_keras_cause_on_one_line(tmp_path, tiny_folder):
    def change(f):
        _replace(f, _kernel_path(f), data=np.ones((8, 784), np.float32))   # transposed: as many values
    path = _with_weights(tiny_folder / "model.keras", tmp_path / "transposed.keras", change)
    with pytest.raises(ZooError) as e:
        zoo.load(path)
    message = one_line(e)
    # the cause Keras states after "Example error message for object ...:", not the line before it (Keras, failing
    # on the shape, retries the layer's other path and reports that attempt)
    assert message.startswith(f"{path} could not be loaded: ValueError: the weights do not fit <Dense name=enc_0")
    assert "Layer 'enc_0' expected 2 variables" in message and "Example error message" not in message


def test_the_shipped_weights_pass_the_dataset_check():
    for path in registry.saved_models_dir().glob("*/model.keras"):
        config = io.read_archive_config(path)
        io.check_weights_file(path, registry._parameter_count(config))


# -- 10. a full disk during a checkpoint ---------------------------------------------------------------------------
def _disk_full_at_second_save(monkeypatch, how):
    import errno

    import tensorflow as tf

    from zoo import training

    calls = []
    if how == "tensorflow":
        real = tf.train.CheckpointManager.save

        def save(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise tf.errors.ResourceExhaustedError(None, None, "ckpt-2.data-00000-of-00001; No space left on device")
            return real(self, *args, **kwargs)
        monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    else:
        real = io.write_json_atomic

        def write(path, obj):
            if path.name == "history.json":
                calls.append(1)
                if len(calls) == 2:
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real(path, obj)
        monkeypatch.setattr(training.io, "write_json_atomic", write)


@pytest.mark.parametrize("how", ["tensorflow", "python"])
def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_previous_one(tmp_path, monkeypatch, how):
    import tensorflow as tf

    from zoo import training

    # fit's checkpoint callback on its own (fit's tracing would cost seconds): epoch 1 saves, epoch 2 meets a full disk
    phase = tmp_path / "work" / "main"
    phase.mkdir(parents=True)
    weights, epoch = tf.Variable([1.0, 2.0]), tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(w=weights, epoch=epoch), str(phase), max_to_keep=1)
    callback = training.PhaseCheckpoint(manager, epoch, phase / "history.json")
    _disk_full_at_second_save(monkeypatch, how)
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 0.5})
    weights.assign([3.0, 4.0])
    callback.on_epoch_begin(1)
    with pytest.raises(ZooError) as e:
        callback.on_epoch_end(1, {"loss": 0.4})
    assert one_line(e) == (f"no space left on the device: the checkpoint of epoch 2 could not be written in {phase} "
                           f"({'ResourceExhaustedError' if how == 'tensorflow' else 'OSError'}); the previous "
                           "checkpoint (ckpt-1) is intact and any saved model is unchanged; free some space and run "
                           "the same command to resume")
    # intact: the latest pointer is still epoch 1's, and it restores epoch 1's values
    assert tf.train.latest_checkpoint(str(phase)) == str(phase / "ckpt-1")
    tf.train.Checkpoint(w=weights, epoch=epoch).restore(str(phase / "ckpt-1")).assert_consumed()
    assert weights.numpy().tolist() == [1.0, 2.0] and int(epoch.numpy()) == 1


def test_other_checkpoint_failures_are_not_called_a_full_disk(tmp_path, monkeypatch):
    import errno

    from zoo import training

    def denied(path, obj):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(training.io, "write_json_atomic", denied)
    callback = training.PhaseCheckpoint(None, None, tmp_path / "history.json")
    callback.on_epoch_begin(0)
    with pytest.raises(PermissionError):
        callback.on_epoch_end(0, {"loss": 0.5})


# -- 11. zoo sample at its bound -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_vae_folder(tmp_path_factory):
    return registry.save_model(zoo.create_model("vae_mnist", hidden_units=[8], latent_dim=2),
                               tmp_path_factory.mktemp("vae") / "v", card={"name": "vae_mnist"})


def test_zoo_sample_at_its_bound_draws_a_small_grid_and_keeps_every_sample(tmp_path, tiny_vae_folder, monkeypatch):
    from conftest import run_zoo_here

    from zoo import cli, figures

    drawn = []
    real = figures.image_grid
    monkeypatch.setattr(figures, "image_grid", lambda images, **kw: drawn.append(len(images)) or real(images, **kw))
    code, out, err = run_zoo_here("sample", tiny_vae_folder, "-n", cli.MAX_SAMPLES, "--seed", 3,
                                  "--out", tmp_path / "s.png")
    assert code == 0, err
    assert drawn == [cli.MAX_DRAWN_SAMPLES] == [100]
    assert out.strip() == (f"wrote {tmp_path / 's.png'}: the first 100 of 1024 samples from {tiny_vae_folder}; all "
                           f"1024 in {tmp_path / 's.npz'}")
    with np.load(tmp_path / "s.npz") as f:
        np.testing.assert_array_equal(f["images"], zoo.load(tiny_vae_folder).sample(1024, seed=3))
    drawn.clear()
    assert run_zoo_here("sample", tiny_vae_folder, "-n", 100, "--out", tmp_path / "t.png")[0] == 0
    assert drawn == [100] and not (tmp_path / "t.npz").exists()


def test_zoo_sample_bounds_its_labels(tmp_path, tiny_vae_folder):
    from conftest import run_zoo_here

    code, out, err = run_zoo_here("sample", tiny_vae_folder, "--labels", ",".join(["1"] * 1025),
                                  "--out", tmp_path / "s.png")
    assert code == 1 and err.strip() == "zoo sample: error: --labels names 1,025 labels, one sample each; at most 1,024"
