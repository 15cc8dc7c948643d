"""The model boundary: plain Keras `model(x)`, `predict` and `evaluate` check numpy input against the family's
contract before Keras sees it (issue #30: 0..255 floats and NaN used to give silent numbers, a wrong width
TensorFlow's multi-line error), valid input gives exactly what Keras' own methods give, and tensors (the traced
steps of fit, predict and evaluate, a tf.function) pass unchecked.

Tiny untrained models on random data: what is tested is the check, not what the models learned."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import zoo
from zoo.base import ZooModel
from zoo.errors import ZooError
from zoo.families import energy, recurrent
from tolerances import assert_f32_close

TINY = {"hidden_units": [8], "latent_dim": 2}
N = 6
IMAGE_LAYOUTS = r"expected images shaped \(N, 28, 28\), \(N, 28, 28, 1\) or \(N, 784\)"


@pytest.fixture(scope="module")
def models():
    ae = zoo.create_model("ae_mnist", **TINY)
    return {"autoencoder": ae, "vae": zoo.create_model("vae_mnist", **TINY),
            "classifier": zoo.create_model("mnist_classifier", encoder=ae),
            "rbm": energy.RBM(hidden=4, num_chains=2),
            "cvae": zoo.create_model("cvae_mnist", **TINY),
            "charlm": recurrent.CharLM(cell="srn", units=8, embedding_dim=4)}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((N, 784), dtype=np.float32), np.arange(N) % 10


def one_line_error(fn, pattern):
    with pytest.raises(ZooError, match=pattern) as info:
        fn()
    assert "\n" not in str(info.value), str(info.value)
    return str(info.value)


def inputs(model, x, y):
    return {"image": x, "label": y} if model.conditional else x


IMAGE_MODELS = ("autoencoder", "vae", "classifier", "rbm", "cvae")

# Each bad input, what it is made from the good (N, 784) float rows, and what the one line must say.
BAD_IMAGES = {
    "0..255 floats": (lambda x: x * 255, r"must lie in \[0, 1\].*divide uint8 images by 255"),
    "NaN": (lambda x: np.where(x > 0.5, np.nan, x), r"NaN or Inf.*expected pixel values in \[0, 1\]"),
    "Inf after the cast": (lambda x: np.where(x > 0.5, 1e300, x.astype(np.float64)), r"NaN or Inf"),
    "wrong width": (lambda x: x[:, :100], IMAGE_LAYOUTS + r", got shape \(6, 100\)"),
    "wrong rank": (lambda x: x.reshape(N, 28, 28, 1, 1), IMAGE_LAYOUTS + r", got shape \(6, 28, 28, 1, 1\)"),
    "int32 pixels": (lambda x: (x * 255).astype(np.int32), r"expected uint8 \(0..255\) or float pixels"),
}


@pytest.mark.parametrize("bad", BAD_IMAGES)
@pytest.mark.parametrize("family", IMAGE_MODELS)
def test_bad_images_get_one_line_through_call_predict_and_evaluate(models, images, family, bad):
    model, (x, y) = models[family], images
    make, pattern = BAD_IMAGES[bad]
    wrong = inputs(model, make(x), y)
    for what, run in {"model(x)": lambda: model(wrong),
                      "predict": lambda: model.predict(wrong, verbose=0),
                      "evaluate": lambda: model.evaluate(wrong, y, verbose=0)}.items():
        message = one_line_error(run, pattern)
        assert message.startswith(("x:", "image:")), (what, message)


@pytest.mark.parametrize("family", IMAGE_MODELS)
def test_one_image_without_a_batch_axis_is_for_model_x_only(models, images, family):
    """model(x) reshapes one image (784,) or (28, 28, 1) in the graph; predict would split it into 784 or 28
    'images'. A 2-D (28, 28) is 28 rows of 28 pixels to the graph, so it is refused even by model(x)."""
    model, (x, y) = models[family], images
    for shape in ((784,), (28, 28, 1)):
        one = inputs(model, x[0].reshape(shape), y[:1])
        np.testing.assert_array_equal(np.asarray(model(one)), np.asarray(keras.Model.__call__(model, one)))
        one_line_error(lambda: model.predict(one, verbose=0), IMAGE_LAYOUTS + rf", got shape \({shape[0]},")
    one_line_error(lambda: model(inputs(model, x[0].reshape(28, 28), y[:1])), IMAGE_LAYOUTS + r", got shape \(28, 28\)")


@pytest.mark.parametrize("family", IMAGE_MODELS)
def test_valid_input_gives_exactly_what_keras_gives(models, images, family):
    model, (x, y) = models[family], images
    for layout in (x, (x * 255).round().astype(np.uint8).reshape(N, 28, 28, 1)):
        inp = inputs(model, layout, y)
        np.testing.assert_array_equal(model.predict(inp, verbose=0), keras.Model.predict(model, inp, verbose=0))
        np.testing.assert_array_equal(np.asarray(model(inp)), np.asarray(keras.Model.__call__(model, inp)))
    if not model.generative or family == "rbm":   # a VAE's evaluate draws z: its figures vary from call to call
        assert model.evaluate(x, y, verbose=0, return_dict=True) == \
            keras.Model.evaluate(model, x, y, verbose=0, return_dict=True)


def test_a_nested_list_is_checked_and_taken_as_an_array(models, images):
    model, (x, _) = models["autoencoder"], images
    np.testing.assert_array_equal(np.asarray(model(x[:2].tolist())), np.asarray(keras.Model.__call__(model, x[:2])))
    one_line_error(lambda: model((x[:2] * 255).tolist()), r"must lie in \[0, 1\]")


def test_labels_are_checked_where_the_model_reads_them(models, images):
    (x, y), clf, cvae, ae = images, models["classifier"], models["cvae"], models["autoencoder"]
    # the classifier's y: one class per image, in 0..9 (Keras' own error for 10 is a multi-line InvalidArgument)
    one_line_error(lambda: clf.evaluate(x, y + 10, verbose=0), r"y: labels must lie in 0..9, got range \[10, 15\]")
    one_line_error(lambda: clf.evaluate(x, y[:3], verbose=0), r"y: expected one label per example, shaped \(6,\)")
    one_line_error(lambda: clf.evaluate(x, y + 0.5, verbose=0), r"y: expected integer labels in 0..9")
    # a conditional model's labels, in its dict or as evaluate's y beside the images
    one_line_error(lambda: cvae.predict({"image": x, "label": y - 1}, verbose=0), r"label: labels must lie in 0..9")
    one_line_error(lambda: cvae({"image": x, "label": y[:2]}), r"label: expected one label per example")
    one_line_error(lambda: cvae.evaluate(x, y + 10, verbose=0), r"y: labels must lie in 0..9")
    one_line_error(lambda: cvae.evaluate(x, verbose=0), r"evaluates images with labels")
    one_line_error(lambda: cvae.predict((x, y), verbose=0), r"takes a dict \{'image': images, 'label': labels\}")
    assert cvae.evaluate(x, y, verbose=0, return_dict=True)["loss"] > 0
    # an autoencoder's y, when it is images, is the clean target a denoiser reconstructs
    one_line_error(lambda: ae.evaluate(x, x * 255, verbose=0), r"y: float pixel values must lie in \[0, 1\]")
    one_line_error(lambda: ae.evaluate(x, x[:3], verbose=0), r"y: expected one target image per input image \(6\)")
    assert ae.evaluate(x, x, verbose=0, return_dict=True) == keras.Model.evaluate(ae, x, x, verbose=0,
                                                                                  return_dict=True)


def test_a_recurrent_model_takes_token_ids_in_its_vocabulary(models):
    model = models["charlm"]
    v = model.vocab_size
    tokens = np.random.default_rng(1).integers(0, v, (3, 7))
    for run in (model, lambda t: model.predict(t, verbose=0), lambda t: model.evaluate(t, tokens, verbose=0)):
        one_line_error(lambda: run(tokens + v), rf"x: token ids must lie in 0..{v - 1}, got range")
        one_line_error(lambda: run(np.where(tokens > 3, np.nan, tokens)), r"x: contains NaN or Inf")
        one_line_error(lambda: run(tokens * 255.5), rf"x: expected integer token ids in 0..{v - 1}, got non-integer")
        one_line_error(lambda: run(tokens[..., None]), r"x: expected token ids shaped \(batch, time\), got shape \(3, 7, 1\)")
        one_line_error(lambda: run(tokens[0]), r"x: expected token ids shaped \(batch, time\), got shape \(7,\)")
    one_line_error(lambda: model.evaluate(tokens, tokens[:, :3], verbose=0),
                   r"y: expected next-token ids shaped like x, \(3, 7\), got shape \(3, 3\)")
    one_line_error(lambda: model.evaluate(tokens, np.full_like(tokens, -1), verbose=0),
                   rf"y: next-token ids must lie in 0..{v - 1}, got range \[-1, -1\]")
    np.testing.assert_array_equal(model.predict(tokens, verbose=0), keras.Model.predict(model, tokens, verbose=0))


def test_the_traced_steps_and_tensors_are_not_checked(models, images, monkeypatch):
    """fit on a tf.data pipeline (its traced train step), a tf.function and an eager tensor never reach the check;
    numpy does, once."""
    (x, y), model = images, models["autoencoder"]
    calls = []
    check = ZooModel.check_input
    monkeypatch.setattr(ZooModel, "check_input", lambda self, *a, **k: calls.append(1) or check(self, *a, **k))
    model.fit(tf.data.Dataset.from_tensor_slices((x, x)).batch(3), epochs=1, verbose=0)
    traced = tf.function(lambda t: model(t))
    # sigmoid outputs in [0, 1], each summed from terms of about that size: the graph may order the sums otherwise
    assert_f32_close(traced(tf.constant(x)), keras.Model.__call__(model, x), magnitude=1.0, what="traced call")
    # an eager tensor is the caller's own graph input: passed on as it is, NaN and all
    assert np.isnan(np.asarray(model(tf.constant(np.full((1, 784), np.nan, np.float32))))).all()
    assert calls == []
    model.predict(x, verbose=0)
    assert calls == [1]


def test_rows_and_word2vec_training_rows():
    """Real rows (perceptron, MLP, DQN) and word2vec's evaluate, which takes training rows, not word ids."""
    from zoo.families import perceptron, wordvec
    mlp = perceptron.MLP(input_dim=2, hidden_units=[3])
    x, y, _ = perceptron.truth_table("xor")
    one_line_error(lambda: mlp.predict(x[:, :1], verbose=0), r"x: expected rows shaped \(N, 2\), got shape \(4, 1\)")
    one_line_error(lambda: mlp(np.where(x > 0, np.inf, x)), r"x: contains NaN or Inf")
    one_line_error(lambda: mlp.evaluate(x, y * 2, verbose=0), r"y: binary targets must lie in 0..1, got range \[0, 2\]")
    np.testing.assert_array_equal(mlp.predict(x, verbose=0), keras.Model.predict(mlp, x, verbose=0))
    words, counts = [f"w{i}" for i in range(10)], list(range(20, 10, -1))
    cbow = wordvec.Word2Vec(vocabulary=words, counts=counts, dim=4, architecture="cbow", window=1, negatives=2)
    one_line_error(lambda: cbow(np.array([1, 10])), r"x: word ids must lie in 0..9, got range \[1, 10\]")
    one_line_error(lambda: cbow.evaluate(np.array([[1, 2, 3]]), verbose=0),
                   r"x: expected word ids shaped \(N, 5\) \(training rows\), got shape \(1, 3\)")
    # an embedding lookup would wrap -1 round to the last word: only an empty context slot may hold it
    one_line_error(lambda: cbow.evaluate(np.array([[-1, 1, 2, 3, 4]]), verbose=0), r"only the context slots")
    assert cbow.check_evaluate(np.array([[1, -1, 2, 3, 4]]))[0].shape == (1, 5)
