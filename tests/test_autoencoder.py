import numpy as np
import pytest
import keras

import zoo
from zoo import data
from zoo.errors import ZooError
from zoo.models.autoencoder import pca, principal_angles_deg
from zoo.train import fit
from conftest import needs_mnist


@pytest.fixture(scope="module")
def tiny():
    return zoo.build("ae_mnist", hidden_units=[32], latent_dim=4)


def test_encoder_and_decoder_are_usable_keras_models(tiny, rng):
    x = rng.random((7, 784), dtype=np.float32)
    assert isinstance(tiny.encoder, keras.Model) and isinstance(tiny.decoder, keras.Model)
    z = tiny.encoder(x)
    assert z.shape == (7, 4)
    out = np.asarray(tiny.decoder(z))
    assert out.shape == (7, 784) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(tiny.encode(x), np.asarray(z), atol=1e-6)


def test_numpy_api_shapes_follow_the_input(tiny, rng):
    u8 = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert tiny.encode(u8).shape == (5, 4)
    assert tiny.encode(u8[0]).shape == (4,)
    assert tiny.decode(np.zeros((3, 4))).shape == (3, 28, 28)
    assert tiny.decode(np.zeros(4)).shape == (28, 28)
    assert tiny.reconstruct(u8[..., None]).shape == (5, 28, 28, 1)
    assert tiny.reconstruct(u8.reshape(5, 784)).shape == (5, 784)
    # uint8 and the same pixels as float in [0, 1] are the same input.
    np.testing.assert_allclose(tiny.encode(u8), tiny.encode(u8.astype(np.float32) / 255), atol=1e-6)


def test_numpy_api_refuses_bad_input(tiny):
    with pytest.raises(ZooError, match=r"got \(5, 32, 32\)"):
        tiny.encode(np.zeros((5, 32, 32), np.float32))
    with pytest.raises(ZooError, match=r"\[0, 1\]"):
        tiny.reconstruct(np.full((28, 28), 255.0))
    with pytest.raises(ZooError, match=r"expected shape \(4,\)"):
        tiny.decode(np.zeros((2, 30)))


def test_training_lowers_the_reconstruction_error(rng):
    x = (rng.random((512, 784)) < 0.2).astype(np.float32)
    x[:, :100] = 1.0  # structure the network can learn
    m = zoo.build("ae_mnist", hidden_units=[32], latent_dim=4)
    before = m.test_metrics(x)["squared_error_per_image"]
    splits = {"train": (x, np.zeros(len(x))), "val": (x[:64], np.zeros(64))}
    fit(m, splits, epochs=3, batch_size=64, learning_rate=3e-3, seed=0, verbose=0)
    after = m.test_metrics(x)["squared_error_per_image"]
    assert after < 0.8 * before


def test_linear_autoencoder_finds_the_pca_subspace(rng):
    # Data with a clear top-3 spectrum in 20 dimensions; the linear AE's decoder span must match the
    # top-3 principal directions computed independently by numpy SVD.
    basis = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    scales = np.array([3.0, 2.0, 1.5] + [0.1] * 17)
    x = (rng.normal(size=(2000, 20)) * scales) @ basis.T + 0.5
    x = x.astype(np.float32)
    m = zoo.build("linear_ae_mnist", input_dim=20, latent_dim=3)
    splits = {"train": (x, np.zeros(len(x))), "val": (x[:0], np.zeros(0))}
    fit(m, splits, epochs=40, batch_size=64, learning_rate=1e-2, seed=0, verbose=0)
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    w = m.decoder_span()
    qa, qb = np.linalg.qr(w)[0], vt[:3].T
    angles = np.degrees(np.arccos(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1)))
    assert angles.max() < 2.0, angles
    # arccos is ill-conditioned near 0 degrees in float32, so the two computations agree to ~0.01 degree.
    np.testing.assert_allclose(principal_angles_deg(w, vt[:3].T), angles, atol=0.01)
    # A random subspace is far from it, so the check can fail.
    assert principal_angles_deg(rng.normal(size=(20, 3)), vt[:3].T).max() > 30


def test_pca_helper_matches_svd(rng):
    x = rng.normal(size=(100, 6))
    mean, comps = pca(x, 2)
    cov = np.cov(x - mean, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov)
    top = eigvecs[:, ::-1][:, :2]
    assert principal_angles_deg(comps.T, top).max() < 1e-4


@needs_mnist
@pytest.mark.parametrize("name", ["ae_mnist", "linear_ae_mnist"])
def test_shipped_model_reproduces_its_card(name):
    model = zoo.load(name)
    card = zoo.model_card(name)
    x, y = data.mnist_splits(validation=0)["test"]
    metrics = model.test_metrics(x, y)
    assert metrics["squared_error_per_image"] == pytest.approx(card["metrics"]["squared_error_per_image"], abs=1e-3)
    # The deep autoencoder beats PCA with the same k, and the linear one matches PCA.
    pca_se = card["pca_baseline"]["squared_error_per_image"]
    if name == "ae_mnist":
        assert metrics["squared_error_per_image"] < 0.6 * pca_se
    else:
        assert metrics["squared_error_per_image"] == pytest.approx(pca_se, rel=0.05)
        assert card["pca_principal_angles_deg"]["mean"] < 10
