"""Encoder classifiers (issue 6): freezing, the label sampler, save/load, LiteRT export, bad inputs."""

import json

import numpy as np
import pytest
import keras

import zoo
from conftest import needs_mnist
from zoo import registry
from zoo.errors import ZooError
from zoo.finetune import fine_tune, sample_labelled
from zoo.models.classifier import EncoderClassifier


def tiny_ae():
    return zoo.build("ae_mnist", hidden_units=[16, 8], latent_dim=4)


def data(rng, n=64):
    return rng.random((n, 784), dtype=np.float32), np.arange(n) % 10


def weights_of(layers):
    return [np.array(w) for layer in layers for w in layer.weights]


@pytest.mark.parametrize("freeze, trainable_encoder_layers", [("all", 0), ("none", 3), (1, 2), (2, 1)])
def test_freeze_modes_set_trainable_weights(freeze, trainable_encoder_layers):
    clf = zoo.classifier(tiny_ae(), freeze=freeze)
    enc = clf.encoder_weight_layers()
    assert len(enc) == 3 and clf.freeze == freeze
    assert sum(layer.trainable for layer in enc) == trainable_encoder_layers
    # head: batch-norm gamma, beta and the softmax layer's kernel, bias
    assert len(clf.trainable_weights) == 2 * trainable_encoder_layers + 4


def test_frozen_encoder_unchanged_head_changes_after_a_train_step(rng):
    x, y = data(rng)
    clf = zoo.classifier(tiny_ae(), freeze=1, learning_rate=1e-2)
    enc = clf.encoder_weight_layers()
    frozen0, free0, head0 = weights_of(enc[:1]), weights_of(enc[1:]), weights_of([clf.head.get_layer("logits")])
    clf.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(frozen0, weights_of(enc[:1])))
    assert all(not np.array_equal(a, b) for a, b in zip(free0, weights_of(enc[1:])))
    assert all(not np.array_equal(a, b) for a, b in zip(head0, weights_of([clf.head.get_layer("logits")])))


def test_fine_tune_trains_head_then_everything(rng):
    x, y = data(rng)
    clf = zoo.classifier(tiny_ae(), freeze="all")
    enc0 = weights_of(clf.encoder_weight_layers())
    hist = fine_tune(clf, x, y, epochs_head=1, epochs_all=1, batch_size=32, seed=0)
    assert set(hist) == {"head", "all"} and clf.freeze == "none"
    assert all(not np.array_equal(a, b) for a, b in zip(enc0, weights_of(clf.encoder_weight_layers())))


def test_fine_tune_is_seeded(rng):
    x, y = data(rng)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(1)
        clf = zoo.classifier(tiny_ae(), seed=3)
        fine_tune(clf, x, y, epochs_head=1, epochs_all=1, batch_size=32, seed=3, shift=2)
        runs.append(clf.predict_proba(x[:8]))
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_vae_encoder_uses_the_mean_path(rng):
    vae = zoo.build("vae_mnist", hidden_units=[16], latent_dim=3)
    clf = zoo.classifier(vae)
    x, _ = data(rng, 8)
    assert [layer.name for layer in clf.encoder_weight_layers()] == ["enc_0", "z_mean"]
    np.testing.assert_allclose(clf.encode(x), np.asarray(vae.encoder(x)[0]), atol=1e-6)


def test_label_sampler_balanced_and_seed_stable():
    y = np.repeat(np.arange(10), 50)[np.random.default_rng(1).permutation(500)]
    idx = sample_labelled(y, 100, seed=0)
    assert len(idx) == len(set(idx.tolist())) == 100
    assert np.bincount(y[idx], minlength=10).tolist() == [10] * 10
    counts = np.bincount(y[sample_labelled(y, 103, seed=0)], minlength=10)
    assert sorted(counts.tolist()) == [10] * 7 + [11] * 3
    np.testing.assert_array_equal(sample_labelled(y, 100, seed=5), sample_labelled(y, 100, seed=5))
    assert not np.array_equal(sample_labelled(y, 100, seed=0), sample_labelled(y, 100, seed=1))
    with pytest.raises(ZooError, match="only 500 are available"):
        sample_labelled(y, 501, seed=0)
    with pytest.raises(ZooError, match="only 30 are available"):
        sample_labelled(np.repeat(np.arange(10), [50] * 9 + [30]), 470, seed=0)  # 47 of class 9 wanted
    with pytest.raises(ZooError, match="positive integer"):
        sample_labelled(y, 0)


def test_save_load_round_trip_identical(tmp_path, rng):
    x, y = data(rng)
    clf = zoo.classifier(zoo.build("vae_mnist", hidden_units=[16], latent_dim=3), head="mlp", head_units=8,
                         dropout=0.2, freeze=1)
    fine_tune(clf, x, y, epochs_head=1, epochs_all=0, batch_size=32, head_freeze=1)
    folder = registry.save_model_dir(clf, tmp_path / "clf", card={"name": "clf"})
    again = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    same = lambda c: json.loads(json.dumps(c))  # tuples in memory come back as lists
    assert type(again) is EncoderClassifier and same(again.get_config()) == same(clf.get_config())
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    assert zoo.load(folder).test_metrics(x, y) == clf.test_metrics(x, y)
    assert again.freeze == 1 and again.count_params_unique() == clf.count_params_unique()
    assert set(again.pictures(x, y)) == {"confusion.png"} and again.pictures() == {}


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
    with pytest.raises(ZooError, match="unknown model"):
        zoo.classifier("ae_mnst", pretrained=False)
    for bad in ("some", -1, 4, 1.5, True):
        with pytest.raises(ZooError, match="freeze"):
            zoo.classifier(tiny_ae(), freeze=bad)
    with pytest.raises(ZooError, match="head must be"):
        zoo.classifier(tiny_ae(), head="conv")
    with pytest.raises(ZooError, match="needs labels|2 inputs"):
        zoo.classifier(zoo.build("cvae_mnist", hidden_units=[8], latent_dim=2))
    with pytest.raises(ZooError, match="encoder"):
        zoo.build("mnist_classifier")
    clf = zoo.classifier(tiny_ae())
    x, y = data(rng, 8)
    with pytest.raises(ZooError, match="labels"):
        clf.test_metrics(x, y[:4])
    with pytest.raises(ZooError, match="labels"):
        fine_tune(clf, x, y.astype(np.float32), epochs_head=1, epochs_all=0)


@needs_mnist
def test_cli_refuses_too_many_labels(capsys):
    from zoo.__main__ import main

    assert main(["finetune", "ae_mnist", "--labels", "20000", "--out", "/nonexistent/x"]) == 1
    assert "only 15000 are available" in capsys.readouterr().err
    assert main(["finetune", "ae_mnst", "--labels", "10"]) == 1
    assert "unknown model" in capsys.readouterr().err
    assert main(["finetune", "ae_mnist", "--labels", "ten"]) == 1
