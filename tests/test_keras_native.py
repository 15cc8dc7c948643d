"""Every shipped model is a plain Keras model: it loads with zoo.load and with keras.saving.load_model, takes
images in any documented layout and dtype through call, predict, evaluate and export, and offers the zoo's
own API (encode, encoder, sample, from_preset, create_model) consistently.

Each model sees the same 64 test images; nothing here trains or estimates a likelihood."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import zoo
from zoo import registry
from zoo.families.autoencoder import ImageAutoencoder

N = 64


def shipped_names():
    return [n for n in zoo.list_models() if (registry.saved_models_dir() / n / registry.MODEL_FILE).is_file()]


# The image families: they take MNIST images in every layout. Families with other inputs (text, word ids,
# patterns) check their own Keras-native paths in their own test files.
IMAGE_FAMILIES = ("autoencoder", "vae", "classifier")
SHIPPED = [n for n in shipped_names() if registry.preset(n)["family"] in IMAGE_FAMILIES]
AUTOENCODERS = [n for n in SHIPPED if issubclass(registry.preset(n)["class"], ImageAutoencoder)]
GENERATIVE = [n for n in SHIPPED if registry.preset(n)["class"].generative]
_loaded = {}


def loaded(name):
    if name not in _loaded:
        _loaded[name] = zoo.load(name)
    return _loaded[name]


@pytest.fixture(scope="module")
def test_images():
    """64 test images as uint8 (N, 28, 28) with their labels."""
    try:
        _, (x, y) = zoo.data.load("mnist")
    except zoo.DataUnavailable:
        pytest.skip("MNIST is not reachable")
    return x[:N], y[:N].astype(np.int64)


def layouts(u8):
    """The three documented layouts: uint8 (N, 28, 28), float (N, 28, 28, 1) and float (N, 784)."""
    floats = u8.astype(np.float32) / 255
    return {"uint8 (N,28,28)": u8, "float (N,28,28,1)": floats[..., None], "float (N,784)": floats.reshape(len(u8), 784)}


def model_input(model, x, y):
    return {"image": x, "label": y} if model.conditional else x


def is_image_model(model):
    return isinstance(model, ImageAutoencoder)


# -- loading ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_plain_keras_load_after_import_zoo_is_the_same_model(name, test_images):
    path = registry.saved_models_dir() / name / registry.MODEL_FILE
    plain = keras.saving.load_model(path)
    model = loaded(name)
    assert type(plain) is type(model) and plain.get_config() == model.get_config()
    for a, b in zip(plain.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x, y = test_images
    rows = x.reshape(N, 784).astype(np.float32) / 255
    np.testing.assert_array_equal(np.asarray(plain(model_input(plain, rows, y))),
                                  np.asarray(model(model_input(model, rows, y))))


@pytest.mark.parametrize("name", SHIPPED)
def test_create_model_pretrained_equals_load(name):
    model = zoo.create_model(name, pretrained=True)
    reference = loaded(name)
    assert type(model) is type(reference) and model.get_config() == reference.get_config()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in reference.get_weights()]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(zoo.ZooError, match="overrides"):
        zoo.create_model(name, pretrained=True, seed=1)


@pytest.mark.parametrize("name", SHIPPED)
def test_from_preset_checks_the_class(name):
    cls = registry.preset(name)["class"]
    model = cls.from_preset(name)
    assert type(model) is cls and model.name == loaded(name).name
    other = zoo.Autoencoder if cls is zoo.EncoderClassifier else zoo.EncoderClassifier
    with pytest.raises(zoo.ZooError, match=f"not a {other.__name__}"):
        other.from_preset(name)


# -- call, predict, evaluate ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.slow
def test_call_predict_and_evaluate_take_every_layout(name, test_images):
    model = loaded(name)
    x, y = test_images
    assert model.compiled and model.optimizer is not None  # loads ready: evaluate below never calls compile
    outs, logs = {}, {}
    for layout, images in layouts(x).items():
        inp = model_input(model, images, y)
        called = np.asarray(model(inp))
        predicted = model.predict(inp, verbose=0)
        # predict runs batches of 32 in a graph, call one batch of 64 eagerly: the matmuls may sum in another
        # order, so they agree to float32 rounding only.
        np.testing.assert_allclose(predicted, called, atol=1e-5)
        if is_image_model(model):
            assert predicted.shape == images.shape, layout      # an image comes back as it went in
            assert predicted.dtype == np.float32
            if model.get_config().get("output_activation", "sigmoid") == "sigmoid":
                assert 0 <= predicted.min() and predicted.max() <= 1
        else:
            assert predicted.shape == (N, model.num_classes)
        outs[layout] = predicted.reshape(N, -1)
        logs[layout] = model.evaluate(inp, y, batch_size=N, verbose=0, return_dict=True)
        assert logs[layout] and all(np.isfinite(v) for v in logs[layout].values()), logs[layout]
    # uint8 is rescaled inside the graph: the same numbers as the caller's x / 255.
    reference = outs["float (N,784)"]
    for layout, out in outs.items():
        np.testing.assert_allclose(out, reference, atol=1e-6, err_msg=layout)
    if not model.generative:  # a VAE's evaluate draws z, so its loss varies from call to call
        for layout, log in logs.items():
            assert log == pytest.approx(logs["float (N,784)"], rel=1e-5), layout


@pytest.mark.parametrize("name", SHIPPED)
def test_evaluate_reports_the_models_own_loss(name, test_images):
    """evaluate's figures recomputed from the model's outputs with numpy."""
    model = loaded(name)
    x, y = test_images
    rows = x.reshape(N, 784).astype(np.float32) / 255
    log = model.evaluate(model_input(model, x, y), y, batch_size=N, verbose=0, return_dict=True)
    if model.family == "classifier":
        p = np.asarray(model(rows), np.float64)
        assert log["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y), abs=1e-6)
        # Keras clips probabilities to [eps, 1 - eps] (eps = 1e-7, keras.config.epsilon()) before the log, so an
        # image classified with certainty adds about eps that the exact log does not: an absolute term of 2 eps.
        eps = keras.config.epsilon()
        assert log["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(N), y])), rel=1e-4, abs=2 * eps)
    elif model.generative:
        # Validation binarizes with the stateless seed (7, 7); the KL part is analytic, so exact.
        xb = (np.asarray(tf.random.stateless_uniform((N, 784), seed=[7, 7])) < rows).astype(np.float32)
        enc = model.encoder([xb, np.eye(10, dtype=np.float32)[y]] if model.conditional else xb)
        m, lv = np.asarray(enc["code"], np.float64), np.asarray(enc["z_log_var"], np.float64)
        kl = 0.5 * np.sum(np.exp(lv) + m ** 2 - 1 - lv, axis=1).mean()
        assert log["kl"] == pytest.approx(kl, rel=1e-4)
        assert log["loss"] == pytest.approx(log["reconstruction"] + log["kl"], rel=1e-5)
    else:
        rec = np.asarray(model(rows), np.float64)
        assert log["squared_error"] == pytest.approx(np.sum((rec - rows) ** 2, axis=1).mean(), rel=1e-4)
        if model.get_config()["loss"] == "bce":
            # Cross-entropy from the logits, in the stable form max(l, 0) - l x + log(1 + exp(-|l|)).
            logits = np.asarray(model.decoder_logits(model.encoder(rows)["code"]), np.float64)
            bce = np.sum(np.maximum(logits, 0) - logits * rows + np.log1p(np.exp(-np.abs(logits))), axis=1)
            assert log["loss"] == pytest.approx(bce.mean(), rel=1e-5)
        else:
            assert log["loss"] == pytest.approx(log["squared_error"], rel=1e-6)


# -- export ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.slow
def test_export_serves_what_call_computes(name, test_images, tmp_path):
    model = loaded(name)
    x, y = test_images
    rows = x.reshape(N, 784).astype(np.float32) / 255
    model.export(str(tmp_path / "sm"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "sm"))
    if model.conditional:
        got = served.serve({"image": rows, "label": y.astype(np.float32)})
    else:
        got = served.serve(rows)
    np.testing.assert_allclose(np.asarray(got), np.asarray(model(model_input(model, rows, y))), atol=1e-5)


# -- the zoo's own API --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", AUTOENCODERS)
def test_encoder_returns_a_dict_with_the_code_and_encode_an_array(name, test_images):
    model = loaded(name)
    x, y = test_images
    rows = x.reshape(N, 784).astype(np.float32) / 255
    if model.conditional:
        out = model.encoder([rows, np.eye(model.num_classes, dtype=np.float32)[y]])
        codes = model.encode(x, y)
    else:
        out = model.encoder(rows)
        codes = model.encode(x)
    assert isinstance(out, dict) and "code" in out
    assert isinstance(codes, np.ndarray) and codes.shape == (N, model.latent_dim)
    np.testing.assert_allclose(codes, np.asarray(out["code"]), atol=1e-6)
    if model.generative:
        assert set(out) == {"code", "z_log_var"}
    # The code is deterministic: the encoder in inference mode gives it twice.
    np.testing.assert_array_equal(codes, model.encode(x, y) if model.conditional else model.encode(x))


@pytest.mark.parametrize("name", GENERATIVE)
def test_sample_is_deterministic_per_seed(name):
    model = loaded(name)
    a = model.sample(8, labels=None, seed=1)
    assert a.shape == (8, 28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, model.sample(8, labels=None, seed=1))
    assert not np.array_equal(a, model.sample(8, labels=None, seed=2))
    if not model.conditional:
        with pytest.raises(zoo.ZooError, match="not class-conditional"):
            model.sample(2, labels=[1, 2], seed=0)


@pytest.mark.skipif("cvae_mnist" not in SHIPPED or "mnist_classifier" not in SHIPPED,
                    reason="needs the shipped cvae_mnist and mnist_classifier")
def test_conditional_samples_have_the_requested_labels():
    labels = np.arange(100) % 10
    samples = loaded("cvae_mnist").sample(100, labels=labels, seed=0)
    predicted = loaded("mnist_classifier").classify(samples)
    # The classifier is 98.7% accurate on real digits; a sampler ignoring labels would score about 0.1.
    assert np.mean(predicted == labels) >= 0.8
    # One int is every sample's label.
    sevens = loaded("cvae_mnist").sample(20, labels=7, seed=1)
    assert np.mean(loaded("mnist_classifier").classify(sevens) == 7) >= 0.8
