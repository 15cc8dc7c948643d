"""Virtual adversarial training (the classifier family's few-label recipe): the adversarial direction against a
power iteration on the KL's Hessian computed by autodiff, learning from unlabelled points on two moons, a
bit-identical resume, and the recipe end to end from the CLI."""

import json

import numpy as np
import pytest
import tensorflow as tf
import keras
from sklearn.datasets import make_moons

import zoo
from conftest import needs_mnist
from zoo import registry, training
from zoo.errors import ZooError
from zoo.families.classifier import EncoderClassifier, VirtualAdversarialTraining, tiled_labelled, _kl


def small_classifier(width=6, seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((width,))
    h = keras.layers.Dense(32, activation="relu")(x)
    h = keras.layers.Dense(16, activation="relu")(h)
    return EncoderClassifier(keras.Model(x, h), head="linear", freeze="none", seed=seed)


def test_adversarial_direction_is_a_power_iteration_step_on_the_kl_hessian(rng):
    clf = small_classifier()
    xi, epsilon, seed = 1e-3, 0.7, 4
    trainer = VirtualAdversarialTraining(clf, epsilon=epsilon, xi=xi, seed=seed)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    rows = tf.constant(rng.normal(size=(5, 6)).astype(np.float32))
    p = clf(rows, training=True)
    r = trainer.adversarial_direction(rows, p).numpy()

    # The Hessian of d -> sum KL(p || p(x + d)) at d = 0, by differentiating the gradient (the batch's rows
    # are coupled through the head's batch normalisation, so it is the whole batch's 30 x 30 matrix).
    d = tf.zeros((30,))
    with tf.GradientTape() as outer:
        outer.watch(d)
        with tf.GradientTape() as inner:
            inner.watch(d)
            kl = tf.reduce_sum(_kl(p, clf(rows + tf.reshape(d, (5, 6)), training=True)))
        grad = inner.gradient(kl, d)
    hessian = outer.jacobian(grad, d).numpy().astype(np.float64)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-4)
    start = tf.random.stateless_normal((5, 6), seed=tf.constant([seed, 0], tf.int64)).numpy().astype(np.float64)
    start /= np.linalg.norm(start, axis=1, keepdims=True)
    step = (hessian @ start.ravel()).reshape(5, 6)
    expected = epsilon * step / np.linalg.norm(step, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), epsilon, rtol=1e-5)
    cosines = np.sum(r * expected, axis=1) / epsilon ** 2
    assert np.all(cosines > 0.999), cosines



def moons_classifier(seed):
    """A 2-32-16 net with a tanh code and a two-class head. With small_classifier's ReLU code (10 classes),
    2 of 16 seeds stayed under 0.83 after the same 1,200 VAT steps; with this one none of 20 went under 0.987."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((2,))
    h = keras.layers.Dense(32, activation="relu")(x)
    h = keras.layers.Dense(16, activation="tanh")(h)
    return EncoderClassifier(keras.Model(x, h), num_classes=2, head="linear", freeze="none", seed=seed)


def moons_accuracy(weight, seed, passes=30, epochs=4):
    """Accuracy on 600 two-moons points after training from one labelled point per moon plus, with weight > 0,
    VAT on all 600 unlabelled (weight 0: the same net, steps and seeds on the two labels alone). Every epoch
    goes `passes` times over the points: 1,200 steps of 100 in 4 epochs, as a Keras epoch costs here as
    much as some 25 steps."""
    x, y = make_moons(600, noise=0.08, random_state=0)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    labelled = np.array([np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]])
    clf = moons_classifier(seed)
    trainer = VirtualAdversarialTraining(clf, epsilon=0.3, weight=weight, seed=seed)
    xl, yl = tiled_labelled(x[labelled], y[labelled], passes * len(x), seed=seed)
    training.fit(trainer, (xl, yl, np.tile(x, (passes, 1))), epochs=epochs, batch_size=100, learning_rate=1e-2,
                 seed=seed, verbose=0)
    return float(np.mean(np.argmax(clf(x).numpy(), axis=1) == y))


MOONS_SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_two_labels_and_the_unlabelled_moons_separate_the_moons():
    # One labelled point per moon: alone they draw a boundary that cuts both moons; the unlabelled points,
    # through the smoothness VAT asks for around each of them, bend it into the gap between the moons.
    # One seed's trajectory is not a property of VAT (float rounding on another CPU changes it), so VAT is
    # judged by its median over three seeds (initialisation, batch order, VAT's noise). Measured on seeds
    # 0-19: 0.987 to 1.000, none under 0.97; a false failure needs two of the three under 0.97: 0.7% if one
    # run in 20 were (with half the steps 4 of 20 ended under 0.86, with a ReLU code 2 of 16 under 0.83).
    # The control, the same net, steps and seed without the VAT term (weight 0), varies little: 0.80 to 0.88
    # over seeds 0-9 (0.79 to 0.89 over 22 runs with a ReLU code), so one seed shows the two labels alone
    # cannot do it; with the VAT weight at 0 the VAT median is the control's, and the test fails.
    supervised = moons_accuracy(0.0, MOONS_SEEDS[0])
    vat = [moons_accuracy(1.0, seed) for seed in MOONS_SEEDS]
    assert supervised < 0.93 and np.median(vat) > 0.97, (supervised, vat)


def test_tiled_labelled_repeats_every_example_evenly():
    x, y = np.arange(10.0)[:, None], np.arange(10) % 3
    xt, yt = tiled_labelled(x, y, 35, seed=1)
    assert len(xt) == 35 and np.array_equal(y[xt[:, 0].astype(int)], yt)
    counts = np.bincount(xt[:, 0].astype(int), minlength=10)
    assert counts.min() == 3 and counts.max() == 4
    assert sorted(xt[:10, 0]) == list(range(10))       # each repeat is a permutation


@pytest.mark.slow
def test_a_resumed_vat_fit_equals_an_uninterrupted_one(tmp_path, rng):
    x = rng.random((96, 6), dtype=np.float32)
    xl, yl = tiled_labelled(x[:10], np.arange(10) % 10, 96, seed=0)
    args = dict(epochs=2, batch_size=32, seed=3, verbose=0)

    def fresh():
        return VirtualAdversarialTraining(small_classifier(), epsilon=0.5, seed=3)

    straight = fresh()
    training.fit(straight, (xl, yl, x), work_dir=tmp_path / "a", **args)
    training.fit(fresh(), (xl, yl, x), work_dir=tmp_path / "b", **{**args, "epochs": 1})
    resumed = fresh()
    training.fit(resumed, (xl, yl, x), work_dir=tmp_path / "b", **args)
    assert int(resumed.optimizer.iterations) == 6
    for a, b in zip(straight.classifier.weights, resumed.classifier.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


def test_bad_recipes_are_refused():
    clf = small_classifier()
    with pytest.raises(ZooError, match="vat_epsilon"):
        VirtualAdversarialTraining(clf, epsilon=0.0)
    with pytest.raises(ZooError, match="EncoderClassifier"):
        VirtualAdversarialTraining(keras.Sequential([keras.layers.Dense(2)]))
    data = {"train": (np.zeros((20, 784), np.float32), np.arange(20) % 10), "val": None, "test": None}
    with pytest.raises(ZooError, match="give a number of labels"):
        zoo.families.classifier.train(clf, data, {"unlabelled": "vat", "seed": 0}, None)
    with pytest.raises(ZooError, match="unlabelled"):
        zoo.families.classifier.train(clf, data, {"unlabelled": "pseudo", "labels": 10, "seed": 0}, None)


@needs_mnist
@pytest.mark.slow
def test_vat_fine_tuning_from_the_cli_learns_from_the_unlabelled_images(tmp_path, monkeypatch, capsys, medium_data_dir):
    from zoo.__main__ import main

    if not (registry.saved_models_dir() / "ae_mnist_512" / registry.MODEL_FILE).is_file():
        pytest.skip("ae_mnist_512 is not shipped")
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("ZOO_DATA_DIR", str(medium_data_dir))
    train_images = len(zoo.data.splits("mnist")["train"][0])
    assert main(["finetune", "ae_mnist_512", "--labels", "100", "--unlabelled", "vat", "--epochs", "3",
                 "--verbose", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    folder = tmp_path / "ae_mnist_512_classifier_100_vat"
    assert report["saved"] == str(folder) and report["labelled_examples"] == 100
    card = json.loads((folder / "card.json").read_text())
    assert card["unlabelled_examples"] == train_images and card["fine_tuning"]["unlabelled"] == "vat"
    # Three passes over the unlabelled images. 100 labels alone reach about 0.75 +- 0.04 over seeds on this
    # encoder after the whole supervised recipe (docs/classifier.md's semi-supervised table), never 0.8.
    x, y = zoo.data.splits("mnist")["test"]
    accuracy = zoo.load(folder).test_metrics(x, y)["accuracy"]
    assert accuracy == pytest.approx(card["metrics"]["accuracy"], abs=1e-4)
    assert accuracy > 0.82, accuracy
    assert main(["finetune", "ae_mnist_512", "--unlabelled", "vat", "--epochs", "1"]) == 1
    assert "give a number of labels" in capsys.readouterr().err
