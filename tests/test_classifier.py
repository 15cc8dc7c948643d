"""Encoder classifiers: building on a pretrained encoder, freezing, the fine-tuning hook and the label
sampler, save/load, LiteRT export, bad inputs, and fine-tuning end to end through zoo.training."""

import functools
import json

import numpy as np
import pytest
import keras

import zoo
from conftest import needs_mnist
from zoo import registry
from zoo.errors import ZooError
from zoo.families import classifier as family
from zoo.families.classifier import EncoderClassifier, sample_labelled

fit = functools.partial(zoo.training.fit, verbose=0)


def tiny_ae():
    return zoo.create_model("ae_mnist", hidden_units=[16, 8], latent_dim=4)


def data(rng, n=64):
    return rng.random((n, 784), dtype=np.float32), np.arange(n) % 10


def splits_of(x, y):
    return {"train": (x, y), "val": (x[:16], y[:16]), "test": (x, y)}


def weights_of(layers):
    return [np.array(w) for layer in layers for w in layer.weights]


def recipe(**changes):
    return {"epochs_head": 1, "epochs": 1, "batch_size": 32, "learning_rate": 1e-3, "lr_head": 1e-2, "seed": 0,
            **changes}


def shipped(name):
    if not (registry.saved_models_dir() / name / registry.MODEL_FILE).is_file():
        pytest.skip(f"{name} is not shipped")
    return zoo.load(name)


@pytest.fixture(scope="module")
def mnist():
    try:
        return zoo.data.splits("mnist")
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")


@pytest.mark.parametrize("freeze, trainable_encoder_layers", [("all", 0), ("none", 3), (1, 2), (2, 1)])
def test_freeze_modes_set_trainable_weights(freeze, trainable_encoder_layers):
    clf = zoo.classifier(tiny_ae(), freeze=freeze, head="linear", dropout=0.0)
    enc = clf.encoder_weight_layers()
    assert len(enc) == 3 and clf.freeze == freeze
    assert sum(layer.trainable for layer in enc) == trainable_encoder_layers
    # head: batch-norm gamma, beta and the softmax layer's kernel, bias
    assert len(clf.trainable_weights) == 2 * trainable_encoder_layers + 4


@pytest.mark.slow
def test_frozen_encoder_unchanged_head_changes_after_a_train_step(rng):
    x, y = data(rng)
    clf = zoo.classifier(tiny_ae(), freeze=1)
    clf.compile(optimizer=keras.optimizers.Adam(1e-2))
    enc = clf.encoder_weight_layers()
    frozen0, free0, head0 = weights_of(enc[:1]), weights_of(enc[1:]), weights_of([clf.head.get_layer("logits")])
    clf.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(frozen0, weights_of(enc[:1])))
    assert all(not np.array_equal(a, b) for a, b in zip(free0, weights_of(enc[1:])))
    assert all(not np.array_equal(a, b) for a, b in zip(head0, weights_of([clf.head.get_layer("logits")])))


@pytest.mark.slow
def test_fine_tune_hook_trains_head_then_everything(rng):
    x, y = data(rng)
    clf = zoo.classifier(tiny_ae(), freeze="all")
    enc0 = weights_of(clf.encoder_weight_layers())
    history, extra = family.train(clf, splits_of(x, y), recipe(), fit)
    assert clf.freeze == "none" and len(history["loss"]) == 1 and "val_accuracy" in history
    assert extra["labelled_examples"] == 64
    assert all(not np.array_equal(a, b) for a, b in zip(enc0, weights_of(clf.encoder_weight_layers())))


@pytest.mark.slow
def test_head_phase_alone_leaves_the_encoder_untouched(rng):
    x, y = data(rng)
    clf = zoo.classifier(tiny_ae())
    enc0 = weights_of(clf.encoder_weight_layers())
    head0 = weights_of([clf.head.get_layer("logits")])
    family.train(clf, splits_of(x, y), recipe(epochs=0), fit)
    assert all(np.array_equal(a, b) for a, b in zip(enc0, weights_of(clf.encoder_weight_layers())))
    assert all(not np.array_equal(a, b) for a, b in zip(head0, weights_of([clf.head.get_layer("logits")])))


@pytest.mark.slow
def test_fine_tune_is_seeded(rng):
    x, y = data(rng)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(1)
        clf = zoo.classifier(tiny_ae(), seed=3)
        family.train(clf, splits_of(x, y), recipe(seed=3, shift=2), fit)
        runs.append(clf.predict_proba(x[:8]))
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_vae_encoder_uses_the_mean_path(rng):
    vae = zoo.create_model("vae_mnist", hidden_units=[16], latent_dim=3)
    clf = zoo.classifier(vae)
    x, _ = data(rng, 8)
    assert [layer.name for layer in clf.encoder_weight_layers()] == ["enc_0", "z_mean"]
    np.testing.assert_allclose(clf.encode(x), np.asarray(vae.encoder(x)["code"]), atol=1e-6)


def test_classifier_builds_on_the_named_pretrained_encoder():
    cae = shipped("cae_mnist")
    clf = zoo.create_model("mnist_classifier", encoder="cae_mnist")
    assert isinstance(clf, EncoderClassifier) and clf.latent_dim == 500 and clf.freeze == "all"
    expected = cae.inference_encoder().get_weights()
    got = clf.encoder.get_weights()
    assert len(got) == len(expected) == 2
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    # The default preset's encoder is ae_mnist's.
    default = zoo.create_model("mnist_classifier")
    for a, b in zip(default.encoder.get_weights(), shipped("ae_mnist").inference_encoder().get_weights()):
        np.testing.assert_array_equal(a, b)


@needs_mnist
@pytest.mark.slow
def test_shipped_classifiers_reach_their_goals_and_cards(mnist):
    x, y = mnist["test"]
    for name, goal in (("mnist_classifier", 0.012), ("mnist_classifier_100labels", 0.10)):
        card = registry.model_card(name)
        # The few-label preset starts from the encoder it names, and its card says which.
        assert card["requires"]["encoder"] == registry.preset(name)["requires"]["encoder"]
        # the whole classifier, by argmax over the test split, against each issue's goal and the card's figure
        error = float(np.mean(np.argmax(shipped(name).predict(x, verbose=0), axis=1) != y))
        assert error <= goal and error == pytest.approx(card["metrics"]["error"], abs=1e-4), (name, error)


@needs_mnist
@pytest.mark.parametrize("name", ["ae_mnist", "dae_mnist", "sparse_ae_mnist", "vae_mnist"])
def test_inference_encoder_is_the_test_time_encoder(name, mnist):
    """Noise, dropout and penalties are left out and a VAE keeps its mean path: the plain copy gives the
    codes encode() gives on real images."""
    model = shipped(name)
    x = mnist["test"][0][:256]
    plain = model.inference_encoder()
    assert all(type(layer) in (keras.layers.InputLayer, keras.layers.Dense) for layer in plain.layers)
    np.testing.assert_allclose(np.asarray(plain(x)), model.encode(x), atol=1e-5)


def test_conditional_vae_is_refused_as_an_encoder():
    cvae = zoo.create_model("cvae_mnist", hidden_units=[8], latent_dim=2)
    with pytest.raises(ZooError, match="conditional VAE needs the label"):
        zoo.classifier(cvae)
    if (registry.saved_models_dir() / "cvae_mnist" / registry.MODEL_FILE).is_file():
        with pytest.raises(ZooError, match="conditional VAE needs the label"):
            zoo.create_model("mnist_classifier", encoder="cvae_mnist")


def test_label_sampler_balanced_and_seed_stable():
    y = np.repeat(np.arange(10), 50)[np.random.default_rng(1).permutation(500)]
    idx = sample_labelled(y, 100, seed=0)
    assert len(idx) == len(set(idx.tolist())) == 100
    assert np.bincount(y[idx], minlength=10).tolist() == [10] * 10
    counts = np.bincount(y[sample_labelled(y, 103, seed=0)], minlength=10)
    assert sorted(counts.tolist()) == [10] * 7 + [11] * 3
    np.testing.assert_array_equal(sample_labelled(y, 100, seed=5), sample_labelled(y, 100, seed=5))
    assert not np.array_equal(sample_labelled(y, 100, seed=0), sample_labelled(y, 100, seed=1))
    with pytest.raises(ZooError, match="at most 500"):
        sample_labelled(y, 501, seed=0)
    with pytest.raises(ZooError, match="only 30 are available"):
        sample_labelled(np.repeat(np.arange(10), [50] * 9 + [30]), 470, seed=0)  # 47 of class 9 wanted
    with pytest.raises(ZooError, match="integer >= 1"):
        sample_labelled(y, 0)


def test_save_load_round_trip_identical(tmp_path, rng):
    x, y = data(rng)
    clf = zoo.classifier(zoo.create_model("vae_mnist", hidden_units=[16], latent_dim=3), head="mlp", head_units=8,
                         dropout=0.2, freeze=1)
    family.train(clf, splits_of(x, y), recipe(epochs=0), fit)
    clf.set_freeze(1)
    folder = registry.save_model(clf, tmp_path / "clf", card={"name": "clf"})
    again = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    same = lambda c: json.loads(json.dumps(c))  # noqa: E731  (tuples in memory come back as lists)
    assert type(again) is EncoderClassifier and same(again.get_config()) == same(clf.get_config())
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    assert zoo.load(folder).test_metrics(x, y) == clf.test_metrics(x, y)
    assert again.freeze == 1 and again.count_params_unique() == clf.count_params_unique()
    assert set(family.pictures(again, splits_of(x, y))) == {"confusion.png"} and family.pictures(again, None) == {}


def test_test_metrics_are_the_confusion_matrix_by_hand(rng):
    x, y = data(rng, 50)
    clf = zoo.classifier(tiny_ae())
    predicted = np.argmax(np.asarray(clf(x)), axis=1)
    m = clf.confusion(x, y)
    expected = np.zeros((10, 10), np.int64)
    for t, p in zip(y, predicted):
        expected[t, p] += 1
    np.testing.assert_array_equal(m, expected)
    assert clf.test_metrics(x, y)["accuracy"] == pytest.approx(np.mean(predicted == y))


def test_litert_export_matches_keras(tmp_path, rng):
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    x, _ = data(rng, 16)
    clf = zoo.classifier(tiny_ae(), head="mlp", head_units=8)
    want = clf.predict_proba(x)
    path = tmp_path / "clf.tflite"
    clf.export(str(path), format="litert", verbose=False)
    interp = Interpreter(model_path=str(path))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], x.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = interp.get_tensor(out["index"])
    assert np.max(np.abs(got - want)) < 1e-5


def test_bad_inputs_raise_zoo_errors(rng):
    with pytest.raises(ZooError, match="unknown model 'ae_mnst'"):
        zoo.classifier("ae_mnst")
    for bad in ("some", -1, 4, 1.5, True):
        with pytest.raises(ZooError, match="freeze"):
            zoo.classifier(tiny_ae(), freeze=bad)
    with pytest.raises(ZooError, match="head must be"):
        zoo.classifier(tiny_ae(), head="conv")
    with pytest.raises(ZooError, match="already a classifier"):
        zoo.classifier(zoo.classifier(tiny_ae()))
    with pytest.raises(ZooError, match="built on an encoder"):
        EncoderClassifier()
    clf = zoo.classifier(tiny_ae())
    x, y = data(rng, 8)
    with pytest.raises(ZooError, match="label"):
        clf.test_metrics(x, y[:4])
    with pytest.raises(ZooError, match="label"):
        clf.test_metrics(x, y + 10)


# -- end to end -----------------------------------------------------------------------------------------------------
@needs_mnist
@pytest.mark.slow
def test_fine_tuning_on_100_labels_runs_end_to_end_and_beats_the_untrained_head(tmp_path, mnist):
    shipped("ae_mnist")
    x, y = mnist["test"]
    untrained = zoo.create_model("mnist_classifier").test_metrics(x, y)["accuracy"]
    model, card, folder = zoo.training.train(
        "mnist_classifier", out=tmp_path / "clf", verbose=0,
        recipe_changes={"labels": 100, "epochs": 1, "epochs_head": 1})
    assert folder == tmp_path / "clf" and (folder / "card.json").is_file() and (folder / "preview.png").is_file()
    assert card["labelled_examples"] == 100 and card["requires"] == {"encoder": "ae_mnist"}
    # What the user set stays; the rest of the few-label recipe applies (batch 32, no shifts).
    used = card["fine_tuning"]
    assert (used["epochs"], used["epochs_head"], used["batch_size"], used["shift"]) == (1, 1, 32, 0)
    assert card["training"]["epochs"] == 1 and card["training"]["command"] == "zoo train mnist_classifier"
    accuracy = model.test_metrics(x, y)["accuracy"]
    assert card["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-4)
    # An untrained head is near chance; two short epochs on 100 labels of good codes are far above it.
    assert untrained < 0.3 and accuracy > untrained + 0.2, (untrained, accuracy)
    np.testing.assert_array_equal(zoo.load(folder).predict_proba(x[:32]), model.predict_proba(x[:32]))


@needs_mnist
@pytest.mark.slow
def test_cli_refuses_too_many_labels(capsys, tmp_path, monkeypatch):
    from zoo.__main__ import main

    shipped("ae_mnist")
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path))  # a failed run must leave nothing in the repository
    available = len(zoo.data.splits("mnist")["train"][0])   # the training images left after the validation split
    assert main(["finetune", "ae_mnist", "--labels", str(available + 1), "--out", str(tmp_path / "x")]) == 1
    assert f"at most {available:,}" in capsys.readouterr().err
    assert main(["finetune", "ae_mnst", "--labels", "10"]) == 1
    assert "unknown model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["finetune", "ae_mnist", "--labels", "ten"])
    assert e.value.code == 2 and "expected an integer" in capsys.readouterr().err


# -- what a card records: the encoder that was used and the recipe that ran (issue #30) ----------------------------
def _sha256_of_weights(model):
    """The weights' bytes in order, hashed here rather than by the family's own helper."""
    import hashlib

    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


@needs_mnist
@pytest.mark.slow
def test_finetune_card_names_the_encoder_used_and_the_recipe_that_ran(tmp_path, small_data_dir):
    import hashlib

    from conftest import run_zoo_here
    from zoo.families.classifier_presets import few_label_recipe

    # Not the preset's default encoder (ae_mnist): a tiny contractive autoencoder, saved where only its folder says.
    cae = zoo.create_model("cae_mnist", latent_dim=8)
    folder = registry.save_model(cae, tmp_path / "my_cae")
    file_sha = hashlib.sha256((folder / registry.MODEL_FILE).read_bytes()).hexdigest()
    code, out, err = run_zoo_here("finetune", folder, "--labels", 20, "--seed", 3, "--head-epochs", 0, "--epochs", 1,
                                  "--out", tmp_path / "clf", "--verbose", 0,
                                  ZOO_DATA_DIR=small_data_dir, ZOO_RUNS_DIR=tmp_path / "runs")
    assert code == 0, err
    card = json.loads((tmp_path / "clf" / "card.json").read_text())
    used = card["fine_tuning"]
    assert card["requires"] == {"encoder": "cae_mnist"}
    assert (used["encoder"], used["encoder_class"]) == ("cae_mnist", "Autoencoder")
    assert used["encoder_file_sha256"] == file_sha
    assert used["encoder_weights_sha256"] == _sha256_of_weights(zoo.load(folder).inference_encoder())
    assert used["encoder_layers"] == [784, 8]
    # Few labels without --preset: the head the documented table was measured with, on the card and in the model.
    assert (used["head"], used["dropout"]) == (card["config"]["head"], card["config"]["dropout"]) == ("linear", 0.0)
    trained = zoo.load(tmp_path / "clf")
    assert [layer.name for layer in trained.head.layers if layer.weights] == ["code_norm", "logits"]
    assert (used["labels"], used["label_seed"], used["labelled_examples"], used["unlabelled"]) == (20, 3, 20, "none")
    # The command's --epochs and --head-epochs, then the few-label recipe's rate and shifts, not mnist_classifier's
    # preset (learning_rate 2e-3, shift 2, lr_head 3e-3); a head phase of 0 epochs records no rate.
    few = few_label_recipe(20)
    assert few["learning_rate"] != registry.preset("mnist_classifier")["train"]["learning_rate"]
    expected = {"epochs_head": 0, "epochs": 1, "learning_rate": few["learning_rate"], "lr_schedule": "cosine",
                "freeze": "none", "batch_size": min(few["batch_size"], 20), "shift": few["shift"], "seed": 3}
    assert {k: used[k] for k in expected} == expected and "lr_head" not in used
    assert {k: card["training"][k] for k in expected} == expected and "lr_head" not in card["training"]
    assert card["training"]["epochs_run"] == 1


def test_documented_frozen_probe_example_is_the_probe_recipe():
    """docs/classifier.md's Python example states the recipe of the table's frozen-probe column; its numbers are
    read from the page and compared with the one recipe the bench and the family use."""
    import re
    from pathlib import Path

    from zoo.families.classifier_presets import few_label_config, few_label_recipe, probe_recipe

    page = (Path(__file__).resolve().parent.parent / "docs" / "classifier.md").read_text()
    block = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    fit_call = re.search(r"clf\.fit\(([^\n]*)\)", block).group(1)
    documented = {k: int(v) for k, v in re.findall(r"(epochs|batch_size)=(\d+)", fit_call)}
    rate = float(re.search(r"keras\.optimizers\.Adam\(([0-9.e-]+)\)", block).group(1))
    labels = int(re.search(r"sample_labelled\(y_train, (\d+), seed=0\)", block).group(1))
    probe = probe_recipe(labels)
    assert documented == {"epochs": probe["epochs_head"], "batch_size": probe["batch_size"]}
    assert rate == probe["lr_head"] and probe["epochs"] == 0
    create = re.search(r'clf = zoo\.create_model\("mnist_classifier", ([^)]*)\)', block).group(1)
    assert dict(re.findall(r'(\w+)=("?[\w.]+"?)', create)) == {
        "encoder": '"ae_mnist"', "head": '"linear"', "dropout": "0.0", "freeze": '"all"'}
    # The fine-tuning call beside it builds what `zoo finetune ENCODER --labels N` builds.
    train = re.search(r"zoo\.training\.train\((.*)\)", block).group(1)
    n = int(re.search(r'"labels": (\d+)', train).group(1))
    assert few_label_recipe(n) and {k: v.strip('"') for k, v in re.findall(r'(head|dropout)=("?[\w.]+"?)', train)} \
        == {k: str(v) for k, v in few_label_config(n).items()}
