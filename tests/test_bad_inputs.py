"""A table of bad inputs across the API and the CLI, each with the error it must give.

Every row names what the user did wrong and a pattern its message must contain: the message says what was
wrong and what is expected. API rows raise zoo.ZooError (never a deep TensorFlow error); CLI rows exit
non-zero with one line on stderr and no traceback.
"""

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import zoo
from zoo import data, registry
from zoo.__main__ import main
from zoo.errors import ZooError
from zoo.train import check_positive, fit, make_optimizer, make_strategy, train_preset


@pytest.fixture(scope="module")
def model():
    return zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)


def _fit(**kw):
    x = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    m = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    args = dict(epochs=1, batch_size=8, verbose=0)
    args.update(kw)
    splits = {"train": (args.pop("x", x), np.zeros(32)), "val": (x[:0], np.zeros(0))}
    return fit(m, splits, **args)


def _corrupt_folder(tmp_path, how):
    m = zoo.build("ae_mnist", hidden_units=[8], latent_dim=2)
    folder = registry.save_model_dir(m, tmp_path / "m", card={"name": "m"})
    path = folder / "model.keras"
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif how == "garbage":
        path.write_bytes(b"\x00" * 64)
    elif how == "card":
        (folder / "card.json").write_text("{")
        return lambda: zoo.model_card(folder)
    elif how == "foreign":
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        cfg = json.loads(members["config.json"])
        cfg["config"]["evil"] = {"module": "subprocess", "class_name": "Popen", "config": {}}
        members["config.json"] = json.dumps(cfg).encode()
        with zipfile.ZipFile(path, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
    elif how == "empty":
        path.unlink()
    return lambda: zoo.load(folder)


F = np.float32
API_ROWS = [
    # (id, call(model, tmp_path), message pattern)
    ("unknown model name", lambda m, t: zoo.build("vae_mnsit"), r"unknown model 'vae_mnsit'.*did you mean"),
    ("unknown name on load", lambda m, t: zoo.load("ae_mnits"), "did you mean ae_mnist"),
    ("unknown name for a card", lambda m, t: zoo.model_card("xyz"), "unknown model 'xyz'"),
    ("unknown config key", lambda m, t: zoo.build("ae_mnist", latnt_dim=3), r"unknown config keys \['latnt_dim'\]"),
    ("negative latent size", lambda m, t: zoo.build("ae_mnist", latent_dim=-3), "positive integers"),
    ("unknown loss", lambda m, t: zoo.build("ae_mnist", loss="hinge"), "loss must be one of"),
    ("missing model file path", lambda m, t: zoo.load(str(t / "no" / "model.keras")), "does not exist"),
    ("folder without model.keras", lambda m, t: _corrupt_folder(t, "empty")(), "model.keras does not exist"),
    ("truncated model.keras", lambda m, t: _corrupt_folder(t, "truncated")(), r"model.keras.*(corrupt|truncated|not a .keras)"),
    ("garbage model.keras", lambda m, t: _corrupt_folder(t, "garbage")(), "not a .keras archive"),
    ("corrupt card.json", lambda m, t: _corrupt_folder(t, "card")(), "card.json is not valid JSON"),
    ("class outside zoo and keras", lambda m, t: _corrupt_folder(t, "foreign")(), "from module 'subprocess'"),
    ("unknown data set", lambda m, t: data.load("imagenet"), "unknown data set 'imagenet'"),
    ("image too small", lambda m, t: m.encode(np.zeros((27, 28), F)), r"got \(27, 28\)"),
    ("colour image", lambda m, t: m.encode(np.zeros((2, 28, 28, 3), F)), r"got \(2, 28, 28, 3\)"),
    ("flattened to the wrong length", lambda m, t: m.encode(np.zeros((4, 783), F)), r"got \(4, 783\)"),
    ("scalar", lambda m, t: m.encode(np.float32(0.5)), r"got \(\)"),
    ("empty batch", lambda m, t: m.encode(np.zeros((0, 784), F)), "empty batch"),
    ("float pixels in 0..255", lambda m, t: m.encode(np.full((28, 28), 200.0, F)), r"must lie in \[0, 1\]"),
    ("negative pixels", lambda m, t: m.reconstruct(np.full((784,), -0.1, F)), r"\[0, 1\]"),
    ("NaN pixels", lambda m, t: m.reconstruct(np.full((784,), np.nan, F)), "NaN"),
    ("Inf pixels", lambda m, t: m.encode(np.full((784,), np.inf, F)), "NaN or Inf"),
    ("int32 pixels", lambda m, t: m.encode(np.zeros((784,), np.int32)), "expected uint8"),
    ("boolean pixels", lambda m, t: m.encode(np.zeros((784,), bool)), "expected uint8"),
    ("string pixels", lambda m, t: m.encode(np.array(["0"] * 784)), "numeric"),
    ("nested lists of objects", lambda m, t: m.encode(np.array([None] * 784)), "numeric"),
    ("latent of the wrong size", lambda m, t: m.decode(np.zeros((3, 5), F)), r"expected shape \(2,\) or \(N, 2\)"),
    ("NaN latent", lambda m, t: m.decode(np.array([np.nan, 0.0])), "NaN"),
    ("string latent", lambda m, t: m.decode(np.array(["a", "b"])), "expected float latent"),
    ("empty latent batch", lambda m, t: m.decode(np.zeros((0, 2), F)), "empty batch"),
    ("zero batch size", lambda m, t: data.pipeline(np.zeros((4, 784), F), batch_size=0), "batch_size must be"),
    ("empty dataset", lambda m, t: data.pipeline(np.zeros((0, 784), F)), "dataset is empty"),
    ("labels of another length", lambda m, t: data.pipeline(np.zeros((4, 784), F), np.zeros(3)), "4 examples but 3 labels"),
    ("zero epochs", lambda m, t: _fit(epochs=0), "epochs must be a positive integer, got 0"),
    ("negative epochs", lambda m, t: _fit(epochs=-2), "epochs must be a positive integer"),
    ("fractional epochs", lambda m, t: check_positive(epochs=1.5), "got 1.5"),
    ("negative batch size", lambda m, t: _fit(batch_size=-8), "batch_size must be a positive integer"),
    ("NaN in the training data", lambda m, t: _fit(x=np.full((32, 784), np.nan, F)), "training data contains NaN"),
    ("unknown strategy", lambda m, t: make_strategy("tpu-pod"), "unknown strategy 'tpu-pod'"),
    ("multiworker without TF_CONFIG", lambda m, t: make_strategy("multiworker"), "needs TF_CONFIG"),
    ("unknown optimizer", lambda m, t: make_optimizer("rmsprop", 1e-3), "unknown optimizer 'rmsprop'"),
    ("training an unknown model", lambda m, t: train_preset("ae_minst", epochs=1), "did you mean ae_mnist"),
    ("training with zero epochs", lambda m, t: train_preset("ae_mnist", epochs=0), "epochs must be"),
]


@pytest.mark.parametrize("call, pattern", [r[1:] for r in API_ROWS], ids=[r[0] for r in API_ROWS])
def test_api_bad_input(call, pattern, model, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ZooError, match=pattern):
        call(model, tmp_path)


def test_missing_data_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(ZooError, match=str(tmp_path / "mnist.npz")):
        data.load("mnist")


CLI_ROWS = [
    # (id, argv, exit code, stderr pattern)
    ("unknown command", ["fly"], 2, "invalid choice"),
    ("info on an unknown model", ["info", "ae_mnsit"], 1, "did you mean ae_mnist"),
    ("evaluate an unknown model", ["evaluate", "nope"], 1, "unknown model 'nope'"),
    ("zero epochs", ["train", "ae_mnist", "--epochs", "0"], 2, "expected a positive integer, got 0"),
    ("text epochs", ["train", "ae_mnist", "--epochs", "ten"], 2, "expected a positive integer, got 'ten'"),
    ("negative batch size", ["train", "ae_mnist", "--batch-size", "-1"], 2, "positive integer"),
    ("negative seed", ["train", "ae_mnist", "--seed", "-1"], 2, "non-negative integer"),
    ("unknown strategy", ["train", "ae_mnist", "--strategy", "tpu"], 2, "invalid choice: 'tpu'"),
    ("--set without =", ["train", "ae_mnist", "--set", "latent_dim"], 1, "--set expects KEY=VALUE"),
    ("--set with broken JSON", ["train", "ae_mnist", "--set", "hidden_units=[16"], 1, "is not a JSON value"),
    ("--set an unknown key", ["train", "ae_mnist", "--set", "latnt=3", "--epochs", "1"], 1, "unknown config keys"),
    ("reconstruct without --out", ["reconstruct", "ae_mnist"], 2, "--out"),
    ("sample from a non-generative model", ["sample", "ae_mnist", "--out", "x.png"], 1, "not generative"),
    ("zero samples", ["sample", "ae_mnist", "--out", "x.png", "-n", "0"], 2, "positive integer"),
    ("evaluate with --limit 0", ["evaluate", "ae_mnist", "--limit", "0"], 2, "positive integer"),
]


@pytest.mark.parametrize("argv, code, pattern", [r[1:] for r in CLI_ROWS], ids=[r[0] for r in CLI_ROWS])
def test_cli_bad_input(argv, code, pattern, capsys):
    try:
        got = main(argv)
    except SystemExit as e:  # argparse's usage errors
        got = e.code
    err = capsys.readouterr().err
    assert got == code, err
    assert pattern in err or __import__("re").search(pattern, err), err
    assert "Traceback" not in err


def test_the_table_is_at_least_forty_rows():
    assert len(API_ROWS) + len(CLI_ROWS) + 1 >= 40


# Property: whatever array a user passes, encode/decode/reconstruct either return the documented shape or
# raise ZooError; no other exception escapes.
SHAPES = st.one_of(
    st.sampled_from([(28, 28), (28, 28, 1), (784,), (2, 28, 28), (3, 28, 28, 1), (5, 784)]),
    st.lists(st.integers(0, 30), min_size=0, max_size=4).map(tuple),
)
DTYPES = st.sampled_from([np.uint8, np.float32, np.float64, np.float16, np.int32, np.int64, bool])


def _array(shape, dtype, fill):
    if np.dtype(dtype) == np.uint8:
        return np.full(shape, int(fill * 255), np.uint8)
    return np.full(shape, fill).astype(dtype)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=SHAPES, dtype=DTYPES, fill=st.sampled_from([0.0, 0.5, 1.0, 1.5, -1.0, float("nan")]))
def test_encode_and_reconstruct_accept_or_refuse_cleanly(model, shape, dtype, fill):
    try:
        x = _array(shape, dtype, fill)
    except (ValueError, OverflowError):
        return  # numpy itself cannot make that array (e.g. NaN as an integer)
    for fn in (model.encode, model.reconstruct):
        try:
            out = fn(x)
        except ZooError:
            continue
        assert np.all(np.isfinite(out))
        if fn.__name__ == "reconstruct":
            assert out.shape == x.shape
        else:
            assert out.shape[-1] == 2 and out.ndim == (1 if x.shape in [(28, 28), (28, 28, 1), (784,)] else 2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), dtype=DTYPES)
def test_decode_accepts_or_refuses_cleanly(model, shape, dtype):
    z = np.zeros(shape, dtype)
    try:
        out = model.decode(z)
    except ZooError:
        return
    assert out.shape[-2:] == (28, 28)
