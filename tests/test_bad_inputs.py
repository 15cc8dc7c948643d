"""A table of bad inputs across the API and the CLI, each with the error it must give.

Every row names what the user did wrong and a pattern its message must contain: the message says what was wrong
and what is expected. API rows raise zoo.ZooError with a one-line message (never a deep TensorFlow error); CLI
rows exit 1 with one line on stderr (2 with argparse's usage for a malformed flag) and never a traceback.
"""

import copy
import json
import re
import zipfile

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import zoo
from zoo import checks, data, registry, training
from zoo.cli import main
from zoo.errors import ZooError
from conftest import ROOT, has_mnist

F = np.float32
TINY = {"hidden_units": [8], "latent_dim": 2}
NAN = float("nan")


class Models:
    """Tiny models of every kind, built once."""

    def __init__(self):
        self.ae = zoo.create_model("ae_mnist", **TINY)
        self.vae = zoo.create_model("vae_mnist", **TINY)
        self.cvae = zoo.create_model("cvae_mnist", **TINY)
        self.clf = zoo.create_model("mnist_classifier", encoder=self.ae)


@pytest.fixture(scope="module")
def models():
    return Models()


class Files:
    """A saved tiny model whose archive, config or card a row breaks in one way."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.folder = registry.save_model(zoo.create_model("ae_mnist", **TINY), tmp_path / "m", card={"name": "m"})
        self.path = self.folder / "model.keras"
        with zipfile.ZipFile(self.path) as zf:
            self.members = {n: zf.read(n) for n in zf.namelist()}
        self.config = json.loads(self.members["config.json"])

    def archive(self, config=None, members=None, drop=()):
        members = dict(self.members if members is None else members)
        if config is not None:
            members["config.json"] = config if isinstance(config, bytes) else json.dumps(config).encode()
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, blob in members.items():
                if name not in drop:
                    zf.writestr(name, blob)
        return self.folder

    def with_config(self, edit):
        config = copy.deepcopy(self.config)
        edit(config)
        return self.archive(config)

    def set_inner(self, key, value):
        return self.with_config(lambda c: c["config"].__setitem__(key, value))

    def raw(self, blob):
        self.path.write_bytes(blob)
        return self.folder

    def without_model(self):
        self.path.unlink()
        return self.folder

    def truncated(self):
        return self.raw(self.path.read_bytes()[: self.path.stat().st_size // 2])

    def card(self, text):
        (self.folder / "card.json").write_text(text)
        return self.folder

    def plain_keras(self):
        path = self.tmp / "plain.keras"
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
        return path

    def nan_weights(self):
        model = zoo.create_model("ae_mnist", **TINY)
        weights = model.get_weights()
        weights[0][3, 1] = np.nan
        model.set_weights(weights)
        return registry.save_model(model, self.tmp / "nan")


def _fit(model=None, x=None, y=None, val=None, **kw):
    """training.fit on 32 random images with a tiny model; kw overrides the arguments."""
    x = np.random.default_rng(0).random((32, 784), dtype=F) if x is None else x
    model = model or zoo.create_model("ae_mnist", **TINY)
    args = dict(epochs=1, batch_size=8, verbose=0)
    args.update(kw)
    return training.fit(model, x if y is None else (x, y), val, **args)


def _train(**kw):
    return training.train(kw.pop("name", "ae_mnist"), **{"epochs": 1, "verbose": 0, **TINY, **kw})


IMG = np.zeros((784,), F)
API_ROWS = [
    # (id, call(models, files), message pattern)
    # -- names and configs
    ("unknown model name", lambda m, f: zoo.create_model("vae_mnsit"), r"unknown model 'vae_mnsit'.*did you mean vae_mnist"),
    ("unknown name on load", lambda m, f: zoo.load("ae_mnits"), "did you mean ae_mnist"),
    ("unknown name for a card", lambda m, f: zoo.model_card("xyz"), "unknown model 'xyz'"),
    ("unknown config key", lambda m, f: zoo.create_model("ae_mnist", latnt_dim=3), r"unknown config keys \['latnt_dim'\]"),
    ("negative latent size", lambda m, f: zoo.create_model("ae_mnist", latent_dim=-3), "latent_dim must be an integer >= 1, got -3"),
    ("hidden_units a number", lambda m, f: zoo.create_model("ae_mnist", hidden_units=16), "hidden_units must be a list"),
    ("unknown loss", lambda m, f: zoo.create_model("ae_mnist", loss="hinge"), "loss must be one of bce, mse"),
    ("cross-entropy on a linear output", lambda m, f: zoo.create_model("ae_mnist", output_activation=None),
     "loss='bce' needs output_activation='sigmoid'"),
    ("unknown noise kind", lambda m, f: zoo.create_model("ae_mnist", noise=[["pink", 0.1]]), "noise kind must be one of"),
    ("dropout of 1", lambda m, f: zoo.create_model("ae_mnist", hidden_dropout=1.0), "hidden_dropout must be <= 0.999"),
    ("free bits NaN", lambda m, f: zoo.create_model("vae_mnist", free_bits=NAN), "free_bits must be a finite number"),
    ("negative free bits", lambda m, f: zoo.create_model("vae_mnist", free_bits=-1.0), "free_bits must be >= 0.0"),
    ("one class", lambda m, f: zoo.create_model("cvae_mnist", num_classes=1), "num_classes must be an integer >= 2"),
    ("billions of parameters", lambda m, f: zoo.create_model("ae_mnist", hidden_units=[30000, 30000]),
     r"implies 1,8\d\d,\d{3},\d{3} parameters, above the limit of 50,000,000"),
    ("pretrained with overrides", lambda m, f: zoo.create_model("ae_mnist", pretrained=True, latent_dim=3),
     "overrides need pretrained=False"),
    ("classifier on a conditional VAE", lambda m, f: zoo.create_model("mnist_classifier", encoder=m.cvae),
     "cannot serve as a classifier's encoder"),
    ("freeze more layers than exist", lambda m, f: zoo.create_model("mnist_classifier", encoder=m.ae, freeze=7),
     "freeze=7 is out of range"),
    ("wrong class for from_preset", lambda m, f: zoo.VAE.from_preset("ae_mnist"), "is a Autoencoder, not a VAE"),
    # -- files
    ("missing .keras file", lambda m, f: zoo.load(str(f.tmp / "no" / "model.keras")), "does not exist"),
    ("path that is nothing", lambda m, f: zoo.load(str(f.tmp / "nothing")), "neither a folder holding model.keras"),
    ("folder without model.keras", lambda m, f: zoo.load(f.without_model()), r"m/model.keras does not exist"),
    ("truncated model.keras", lambda m, f: zoo.load(f.truncated()), r"m/model.keras .*(corrupt or truncated)"),
    ("garbage model.keras", lambda m, f: zoo.load(f.raw(b"\x00" * 64)), r"m/model.keras is not a .keras archive"),
    ("archive without config.json", lambda m, f: zoo.load(f.archive(drop=["config.json"])), "has no config.json"),
    ("config.json not JSON", lambda m, f: zoo.load(f.archive(b"{'no': json")), r"model.keras is corrupt or truncated"),
    ("config.json over 1 MB", lambda m, f: zoo.load(f.set_inner("padding", "x" * (1 << 20))),
     r"config.json is too large \(limit 1,048,576 bytes"),
    ("file asking for billions of parameters", lambda m, f: zoo.load(f.set_inner("hidden_units", [30000, 30000])),
     "refused before allocating anything"),
    ("sizes of the wrong type in a file", lambda m, f: zoo.load(f.set_inner("hidden_units", 5)),
     r"model.keras: its config is malformed \(TypeError"),
    ("infinite size in a file", lambda m, f: zoo.load(f.set_inner("input_dim", float("inf"))),
     r"model.keras: its config is malformed \(OverflowError"),
    ("class from module os", lambda m, f: zoo.load(f.with_config(lambda c: c.update(module="os", class_name="system",
                                                                                      registered_name=None))),
     "holds a 'system', not a zoo model"),
    ("zoo name on a class from os", lambda m, f: zoo.load(f.with_config(lambda c: c.update(module="os", class_name="system"))),
     "names 'zoo>Autoencoder' as class 'system' from module 'os'; refused"),
    ("nested foreign class", lambda m, f: zoo.load(f.set_inner("evil", {"module": "subprocess", "class_name": "Popen",
                                                                         "config": {}})),
     "names class 'Popen' from module 'subprocess', which is not on the zoo's allow-list"),
    ("class without a module", lambda m, f: zoo.load(f.set_inner("evil", {"class_name": "TFSMLayer", "config": {}})),
     "names class 'TFSMLayer' from module None"),
    ("activation keras.utils.plot_model", lambda m, f: zoo.load(f.set_inner("activation", {
        "module": "keras.utils", "class_name": "function", "config": "plot_model", "registered_name": "function"})),
     "refers to function keras.utils.plot_model; only Keras activations"),
    ("a Keras class off the allow-list", lambda m, f: zoo.load(f.set_inner("activation", {
        "module": "keras.utils", "class_name": "plot_model", "config": {}})), "names class 'plot_model' from module"),
    ("an unregistered zoo class", lambda m, f: zoo.load(f.with_config(lambda c: c.update(registered_name="zoo>Evil"))),
     r"holds a 'zoo>Evil', not a zoo model"),
    ("a plain Keras model", lambda m, f: zoo.load(f.plain_keras()), "holds a 'Sequential', not a zoo model"),
    ("NaN weights", lambda m, f: zoo.load(f.nan_weights()), r"nan/model.keras: weight .* contains NaN or Inf"),
    ("truncated card.json", lambda m, f: zoo.model_card(f.card('{"name": "tin')), r"m/card.json is not valid JSON"),
    ("missing card.json", lambda m, f: zoo.model_card((f.folder / "card.json").unlink() or f.folder),
     r"m/card.json does not exist"),
    # -- images and codes
    ("image too small", lambda m, f: m.ae.encode(np.zeros((27, 28), F)), r"got \(27, 28\)"),
    ("colour image", lambda m, f: m.ae.encode(np.zeros((2, 28, 28, 3), F)), r"got \(2, 28, 28, 3\)"),
    ("flattened to the wrong length", lambda m, f: m.ae.encode(np.zeros((4, 783), F)), r"got \(4, 783\)"),
    ("scalar", lambda m, f: m.ae.encode(np.float32(0.5)), r"got \(\)"),
    ("empty batch", lambda m, f: m.ae.encode(np.zeros((0, 784), F)), "empty batch"),
    ("float pixels in 0..255", lambda m, f: m.ae.encode(np.full((28, 28), 200.0, F)), r"must lie in \[0, 1\]"),
    ("negative pixels", lambda m, f: m.ae.reconstruct(np.full((784,), -0.1, F)), r"\[0, 1\]"),
    ("NaN pixels", lambda m, f: m.ae.reconstruct(np.full((784,), np.nan, F)), "NaN"),
    ("Inf pixels", lambda m, f: m.ae.encode(np.full((784,), np.inf, F)), "NaN or Inf"),
    ("1e300 as float64 pixels", lambda m, f: m.ae.encode(np.full((784,), 1e300)), r"NaN or Inf \(after the cast to float32\)"),
    ("1e300 as a float64 code", lambda m, f: m.ae.decode(np.array([1e300, 0.0])), r"NaN or Inf \(after the cast to float32\)"),
    ("complex pixels", lambda m, f: m.ae.encode(np.zeros((2, 784), np.complex64)), "complex numbers are not accepted"),
    ("complex code", lambda m, f: m.vae.decode(np.zeros(2, complex)), "complex numbers are not accepted"),
    ("ragged list of images", lambda m, f: m.ae.encode([[0.1] * 784, [0.2] * 783]), "got ragged input"),
    ("ragged list of codes", lambda m, f: m.ae.decode([[0.1, 0.2], [0.3]]), "got ragged input"),
    ("int32 pixels", lambda m, f: m.ae.encode(np.zeros((784,), np.int32)), "expected uint8"),
    ("boolean pixels", lambda m, f: m.ae.encode(np.zeros((784,), bool)), "expected uint8"),
    ("string pixels", lambda m, f: m.ae.encode(np.array(["0"] * 784)), "numeric"),
    ("objects as pixels", lambda m, f: m.ae.encode(np.array([None] * 784)), "numeric"),
    ("code of the wrong size", lambda m, f: m.ae.decode(np.zeros((3, 5), F)), r"expected shape \(2,\) or \(N, 2\)"),
    ("NaN code", lambda m, f: m.ae.decode(np.array([np.nan, 0.0])), "NaN"),
    ("string code", lambda m, f: m.ae.decode(np.array(["a", "b"])), "numeric"),
    ("boolean code", lambda m, f: m.ae.decode(np.zeros(2, bool)), "expected float latent codes"),
    ("empty batch of codes", lambda m, f: m.ae.decode(np.zeros((0, 2), F)), "empty batch"),
    # -- counts, each with an upper bound
    ("a million samples", lambda m, f: m.vae.sample(1_000_000), "n must be at most 100,000, got 1,000,000"),
    ("zero samples", lambda m, f: m.vae.sample(0), "n must be an integer >= 1, got 0"),
    ("fractional samples", lambda m, f: m.vae.sample(2.5), "n must be an integer >= 1, got 2.5"),
    ("samples as text", lambda m, f: m.vae.sample("10"), "n must be an integer >= 1, got '10'"),
    ("samples as a bool", lambda m, f: m.vae.sample(True), "got True"),
    ("interpolation with a million steps", lambda m, f: m.vae.interpolate(IMG, IMG, steps=10 ** 6), "steps must be at most 10,000"),
    ("interpolation with one step", lambda m, f: m.vae.interpolate(IMG, IMG, steps=1), "steps must be an integer >= 2"),
    ("interpolation from a batch", lambda m, f: m.vae.interpolate(np.zeros((2, 784), F), IMG), "x1: expected one image, got a batch of 2"),
    ("ten million importance samples", lambda m, f: m.vae.log_likelihood(IMG, num_samples=10 ** 7), "num_samples must be at most 100,000"),
    ("labels for an unconditional model", lambda m, f: m.vae.sample(3, labels=1), "not class-conditional"),
    # -- labels
    ("label 12 of 10 classes", lambda m, f: m.cvae.sample(3, labels=12), r"labels must lie in 0..9, got range \[12, 12\]"),
    ("negative label", lambda m, f: m.cvae.sample(2, labels=[-1, 3]), r"labels must lie in 0..9, got range \[-1, 3\]"),
    ("fractional label", lambda m, f: m.cvae.sample(2, labels=[1.5, 2]), "non-integer values"),
    ("one label for two images", lambda m, f: m.cvae.sample(2, labels=[1]), r"one label per example \(2\)"),
    ("no labels for a conditional decode", lambda m, f: m.cvae.decode(np.zeros((2, 2), F)), "expected integer labels in 0..9, got None"),
    ("conditional interpolation without labels", lambda m, f: m.cvae.interpolate(IMG, IMG), r"pass labels=\(label1, label2\)"),
    ("label 12 at training time", lambda m, f: _fit(m.cvae, y=np.full(32, 12)),
     r"training labels: labels must lie in 0..9, got range \[12, 12\]"),
    ("validation label -1", lambda m, f: _fit(m.cvae, y=np.zeros(32, int), val=(np.zeros((8, 784), F), np.full(8, -1))),
     "validation labels: labels must lie in 0..9"),
    ("classifier label 10 at training time", lambda m, f: _fit(m.clf, y=np.arange(32) % 11), r"got range \[0, 10\]"),
    ("confusion with label 10", lambda m, f: m.clf.confusion(np.zeros((2, 784), F), [0, 10]), "labels must lie in 0..9"),
    # -- training options
    ("zero epochs", lambda m, f: _fit(epochs=0), "epochs must be an integer >= 1, got 0"),
    ("1e23 epochs", lambda m, f: _fit(epochs=1e23), "epochs must be at most 100,000"),
    ("fractional epochs", lambda m, f: _fit(epochs=1.5), "epochs must be an integer >= 1, got 1.5"),
    ("zero batch size", lambda m, f: _fit(batch_size=0), "batch_size must be an integer >= 1"),
    ("ten-million batch size", lambda m, f: _fit(batch_size=10 ** 7), "batch_size must be at most 1,000,000"),
    ("zero learning rate", lambda m, f: _fit(learning_rate=0.0), "learning_rate must be > 0.0, got 0.0"),
    ("negative learning rate", lambda m, f: _fit(learning_rate=-0.01), "learning_rate must be > 0.0, got -0.01"),
    ("NaN learning rate", lambda m, f: _fit(learning_rate=NAN), "learning_rate must be a finite number"),
    ("huge learning rate", lambda m, f: _fit(learning_rate=100.0), "learning_rate must be <= 10.0"),
    ("NaN in the training data", lambda m, f: _fit(x=np.full((32, 784), np.nan, F)), "training data contains NaN"),
    ("unknown lr schedule", lambda m, f: _fit(lr_schedule="step"), "lr_schedule must be one of constant, cosine"),
    ("zero patience", lambda m, f: _fit(early_stopping=0), "early_stopping must be an integer >= 1"),
    ("early stopping without validation", lambda m, f: _fit(early_stopping=2), "early_stopping needs a validation split"),
    ("unknown strategy", lambda m, f: training.make_strategy("tpu-pod"), "unknown strategy 'tpu-pod'"),
    ("multiworker without TF_CONFIG", lambda m, f: training.make_strategy("multiworker"), "needs TF_CONFIG"),
    ("unknown optimizer", lambda m, f: training.make_optimizer("rmsprop", 1e-3), "unknown optimizer 'rmsprop'"),
    ("training an unknown model", lambda m, f: _train(name="ae_minst"), "did you mean ae_mnist"),
    ("training for 1e23 epochs", lambda m, f: _train(epochs=1e23), "epochs must be at most 100,000"),
    ("training at a negative rate", lambda m, f: _train(learning_rate=-0.01), "learning_rate must be > 0.0"),
    ("training with a negative seed", lambda m, f: _train(seed=-1), "seed must be an integer >= 0"),
    ("training into a file", lambda m, f: _train(out=f.path), r"--out .*model.keras is a file; expected a folder"),
    ("training into a shipped folder", lambda m, f: _train(out=registry.saved_models_dir() / "ae_mnist"),
     "is a shipped model's folder; train into runs/ and pass --publish"),
    # -- data
    ("unknown data set", lambda m, f: data.load("imagenet"), "unknown data set 'imagenet'"),
    ("no splits for a data set", lambda m, f: data.splits("imagenet"), "no splits for data set"),
    ("zero batch size in a pipeline", lambda m, f: data.pipeline((np.zeros((4, 784), F),), batch_size=0), "batch_size must be"),
    ("empty dataset", lambda m, f: data.pipeline((np.zeros((0, 784), F),)), "the dataset is empty"),
    ("arrays of different lengths", lambda m, f: data.pipeline((np.zeros((4, 784), F), np.zeros(3))),
     r"arrays of different lengths \[4, 3\]"),
]


@pytest.mark.parametrize("call, pattern", [r[1:] for r in API_ROWS], ids=[r[0] for r in API_ROWS])
def test_api_bad_input(call, pattern, models, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(ZooError) as e:
        call(models, Files(tmp_path))
    message = str(e.value)
    assert re.search(pattern, message), message
    assert "\n" not in message and "Traceback" not in message


def test_a_label_out_of_range_would_otherwise_train_silently():
    # Why training checks labels: the one-hot of an out-of-range label is all zeros, and no TensorFlow op
    # complains, so a CVAE would learn from labels that say nothing.
    import tensorflow as tf

    assert not np.any(tf.one_hot([12, -1], 10).numpy())


def test_missing_data_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(ZooError, match=re.escape(str(tmp_path / "mnist.npz")) + " does not exist"):
        data.load("mnist")


# -- the CLI -----------------------------------------------------------------------------------------------------
# {file}: an existing regular file; {dir}: an existing folder; {plain}: a plain Keras model file; {shipped}: the
# shipped ae_mnist folder; {tmp}: a fresh temporary folder.
CLI_ROWS = [
    # (id, argv, exit code, stderr pattern)
    ("unknown command", ["fly"], 2, "invalid choice: 'fly'"),
    ("info without a name", ["info"], 2, "the following arguments are required: name"),
    ("info on an unknown model", ["info", "ae_mnsit"], 1, "did you mean ae_mnist"),
    ("evaluate an unknown model", ["evaluate", "nope"], 1, "unknown model 'nope'"),
    ("train an unknown model", ["train", "ae_mnst"], 1, r"unknown model 'ae_mnst'; did you mean ae_mnist"),
    ("pictures of an unknown model", ["pictures", "vae_mnsit", "--out", "{tmp}"], 1, "did you mean vae_mnist"),
    ("zero epochs", ["train", "ae_mnist", "--epochs", "0"], 2, r"expected an integer in \[1, 100,000\], got 0"),
    ("text epochs", ["train", "ae_mnist", "--epochs", "ten"], 2, "expected an integer, got 'ten'"),
    ("1e23 epochs", ["train", "ae_mnist", "--epochs", "1e23"], 2, "expected an integer, got '1e23'"),
    ("a billion epochs", ["train", "ae_mnist", "--epochs", "1000000000"], 2, "got 1,000,000,000"),
    ("negative batch size", ["train", "ae_mnist", "--batch-size", "-1"], 2, r"expected an integer in \[1, 1,000,000\]"),
    ("ten-million batch size", ["train", "ae_mnist", "--batch-size", "10000000"], 2, "got 10,000,000"),
    ("negative learning rate", ["train", "ae_mnist", "--learning-rate", "-0.01"], 2, "expected a finite number > 0, got -0.01"),
    ("zero learning rate", ["train", "ae_mnist", "--learning-rate", "0"], 2, "expected a finite number > 0"),
    ("NaN learning rate", ["train", "ae_mnist", "--learning-rate", "nan"], 2, "expected a finite number > 0, got nan"),
    ("negative seed", ["train", "ae_mnist", "--seed", "-1"], 2, r"expected an integer in \[0, 2,147,483,647\]"),
    ("unknown strategy", ["train", "ae_mnist", "--strategy", "tpu"], 2, "invalid choice: 'tpu'"),
    ("--set without =", ["train", "ae_mnist", "--set", "latent_dim"], 1, "--set expects KEY=VALUE, got 'latent_dim'"),
    ("--set an unknown key", ["train", "ae_mnist", "--set", "latnt=3"], 1, r"unknown config keys \['latnt'\]"),
    ("--set free_bits=NaN", ["train", "vae_mnist", "--set", "free_bits=NaN"], 1, "free_bits must be a finite number, got nan"),
    ("free bits on the IWAE preset", ["train", "vae_mnist", "--set", "free_bits=0.5"], 1,
     r"use one or the other \(importance_samples=1 for free bits\)"),
    ("negative --validation", ["train", "ae_mnist", "--validation", "-1"], 2, r"expected an integer in \[0, 1,000,000\]"),
    ("--validation beyond the data", ["train", "ae_mnist", "--validation", "999999"], 1, r"validation must be in \[0, \d+\)"),
    ("--validation on fixed text splits", ["train", "char_lstm_shakespeare", "--validation", "100"], 1,
     "tinyshakespeare's validation split is fixed"),
    ("early stopping without validation", ["train", "vae_mnist", "--early-stopping", "3"], 1,
     r"early_stopping needs a validation split; hold some images out \(--validation 2000\)"),
    ("--set name=x", ["train", "ae_mnist", "--set", "name=x"], 1, "keeps its preset's name.*--out"),
    ("--set a training option", ["train", "ae_mnist", "--set", "epochs=5"], 1, "epochs is a training option"),
    ("--set seed", ["train", "ae_mnist", "--set", "seed=3"], 1, "seed is a training option"),
    ("--set a number for a list", ["train", "ae_mnist", "--set", "hidden_units=16"], 1, "hidden_units must be a list"),
    ("--set billions of parameters", ["train", "ae_mnist", "--set", "hidden_units=[30000,30000]"], 1,
     "parameters, above the limit of 50,000,000"),
    ("train --out a file", ["train", "ae_mnist", "--out", "{file}"], 1, "is a file; expected a folder"),
    ("train --out a shipped folder", ["train", "ae_mnist", "--out", "{shipped}"], 1, "pass --publish to replace it"),
    ("pictures --out a file", ["pictures", "ae_mnist", "--out", "{file}"], 1, "is a file; expected a folder"),
    ("demo --out a file", ["demo", "--out", "{file}"], 1, "is a file; expected a folder"),
    ("sample --out a folder", ["sample", "vae_mnist", "--out", "{dir}"], 1, "is a folder; expected a .png file name"),
    ("pictures of a folder without a card", ["pictures", "{dir}"], 1, r"card.json does not exist"),
    ("sample a non-generative model", ["sample", "ae_mnist", "--out", "{tmp}/x.png"], 1,
     "not generative.*Generative models: .*vae_mnist"),
    ("zero samples", ["sample", "vae_mnist", "--out", "{tmp}/x.png", "-n", "0"], 2, r"expected an integer in \[1, 1,024\]"),
    ("a million samples", ["sample", "vae_mnist", "--out", "{tmp}/x.png", "-n", "1000000"], 2, "got 1,000,000"),
    ("more samples than a figure holds", ["sample", "vae_mnist", "--out", "{tmp}/x.png", "-n", "10000"], 2,
     r"expected an integer in \[1, 1,024\], got 10,000"),
    ("sample labels as words", ["sample", "cvae_mnist", "--out", "{tmp}/x.png", "--labels", "one,two"], 1,
     "--labels expects comma-separated integers"),
    ("sample label 12", ["sample", "cvae_mnist", "--out", "{tmp}/x.png", "--labels", "3,12"], 1,
     r"labels must lie in 0..9, got range \[3, 12\]"),
    ("sample labels from an unconditional model", ["sample", "vae_mnist", "--out", "{tmp}/x.png", "--labels", "3"], 1,
     "not class-conditional"),
    ("evaluate --limit 0", ["evaluate", "ae_mnist", "--limit", "0"], 2, "expected an integer in"),
    ("evaluate --num-samples 0", ["evaluate", "vae_mnist", "--num-samples", "0"], 2, "expected an integer in"),
    ("evaluate --num-samples on an autoencoder", ["evaluate", "ae_mnist", "--num-samples", "5"], 1,
     r"--num-samples is for likelihood models; ae_mnist \(autoencoder\) has none"),
    ("evaluate --num-samples on a GAN", ["evaluate", "dcgan_mnist", "--num-samples", "5"], 1,
     r"--num-samples is for likelihood models; dcgan_mnist \(gan\) has none"),
    ("evaluate a plain Keras file", ["evaluate", "{plain}"], 1, "holds a 'Sequential', not a zoo model"),
    ("evaluate a missing file", ["evaluate", "{tmp}/missing.keras"], 1, "missing.keras does not exist"),
    ("finetune --labels 0", ["finetune", "--labels", "0"], 2, r"argument --labels: expected an integer in \[1, 1,000,000\], got 0"),
    ("finetune --labels -4", ["finetune", "--labels", "-4"], 2, "got -4"),
    ("finetune --labels abc", ["finetune", "--labels", "abc"], 2, "argument --labels: expected an integer, got 'abc'"),
    ("finetune more labels than images", ["finetune", "--labels", "1000000"], 1,
     r"the number of labels must be at most [\d,]+, got 1,000,000"),
    ("finetune --shift 20", ["finetune", "--shift", "20"], 2, r"expected an integer in \[0, 13\]"),
    ("finetune an unknown encoder", ["finetune", "ae_mnsit"], 1, "did you mean ae_mnist"),
    ("finetune a conditional VAE", ["finetune", "cvae_mnist"], 1, "cannot serve as a classifier's encoder"),
]


@pytest.fixture
def cli_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))   # nothing a row might write lands in runs/
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(plain)
    return {"file": tmp_path / "a_file", "dir": tmp_path / "a_dir", "plain": plain, "tmp": tmp_path,
            "shipped": registry.saved_models_dir() / "ae_mnist"}


def run_main(argv):
    try:
        return main(argv)
    except SystemExit as e:   # argparse's usage errors
        return e.code


# rows whose refusal comes after MNIST is read
READS_MNIST = {"--validation beyond the data", "early stopping without validation"}


@pytest.mark.parametrize("what, argv, code, pattern", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_cli_bad_input(what, argv, code, pattern, cli_paths, capsys):
    if (argv[0] in ("evaluate", "finetune") or what in READS_MNIST) and not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    argv = [a.format(**cli_paths) for a in argv]
    got = run_main(argv)
    err = capsys.readouterr().err
    assert got == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith(f"zoo {argv[0]}: error: "), err
    else:
        assert lines[0].startswith("usage: zoo") and lines[-1].startswith("zoo"), err
    assert re.search(pattern, lines[-1]), err
    runs = cli_paths["tmp"] / "runs"
    # A refused command writes no model anywhere (a backup folder needs a checkpoint to matter, see
    # test_fault_tolerance); the shipped folder is untouched.
    assert not runs.exists() or not any(p.name == "model.keras" for p in runs.rglob("*"))


def test_the_readme_states_the_tables_sizes():
    """The guarantees page's row (docs/guarantees.md, moved there from the README) gives the number of cases; it
    must be the tables' (which grow)."""
    text = (ROOT / "docs" / "guarantees.md").read_text()
    found = re.search(r"\*\*([\d,]+) cases\*\* \(([\d,]+) API, ([\d,]+) CLI\)", text)
    assert found, "docs/guarantees.md no longer states the number of bad-input cases"
    stated = [int(g.replace(",", "")) for g in found.groups()]
    assert stated == [len(API_ROWS) + len(CLI_ROWS), len(API_ROWS), len(CLI_ROWS)], stated


# -- properties: whatever array a user passes, the NumPy API returns the documented shape or raises ZooError -----
SHAPES = st.one_of(
    st.sampled_from([(28, 28), (28, 28, 1), (784,), (2, 28, 28), (3, 28, 28, 1), (5, 784)]),
    st.lists(st.integers(0, 30), min_size=0, max_size=4).map(tuple),
)
DTYPES = st.sampled_from([np.uint8, np.float32, np.float64, np.float16, np.int32, np.int64, bool, np.complex64])
FILLS = st.sampled_from([0.0, 0.5, 1.0, 1.5, -1.0, float("nan"), float("inf"), 1e300])


def _array(shape, dtype, fill):
    if np.dtype(dtype) == np.uint8:
        return np.full(shape, int(min(max(fill, 0), 1) * 255), np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.full(shape, fill).astype(dtype)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=SHAPES, dtype=DTYPES, fill=FILLS)
def test_encode_and_reconstruct_accept_or_refuse_cleanly(models, shape, dtype, fill):
    try:
        x = _array(shape, dtype, fill)
    except (ValueError, OverflowError):
        return  # numpy itself cannot make that array (e.g. NaN as an integer)
    single = x.shape in [(28, 28), (28, 28, 1), (784,)]
    for fn in (models.ae.encode, models.ae.reconstruct):
        try:
            out = fn(x)
        except ZooError:
            continue
        assert np.all(np.isfinite(out))
        if fn.__name__ == "reconstruct":
            assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        else:
            assert out.shape == ((2,) if single else (len(x), 2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), dtype=DTYPES, fill=FILLS)
def test_decode_accepts_or_refuses_cleanly(models, shape, dtype, fill):
    try:
        z = _array(shape, dtype, fill)
    except (ValueError, OverflowError):
        return
    try:
        out = models.ae.decode(z)
    except ZooError:
        return
    assert out.shape == ((28, 28) if z.shape == (2,) else (len(z), 28, 28)) and np.all(np.isfinite(out))


COUNTS = st.one_of(st.integers(-5, 200_000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.text(max_size=3), st.none(), st.sampled_from([10 ** 23, 1e23, np.int64(3), np.float32(2.0)]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=COUNTS)
def test_a_count_is_an_integer_in_its_bounds_or_a_zoo_error(n):
    try:
        got = checks.count(n, "n", 1, checks.MAX_SAMPLES)
    except ZooError as e:
        assert "\n" not in str(e)
        return
    assert type(got) is int and 1 <= got <= checks.MAX_SAMPLES and got == n and not isinstance(n, (bool, str))
