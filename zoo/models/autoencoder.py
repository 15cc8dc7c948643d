"""The undercomplete autoencoder: an N-M-N bottleneck network that learns to copy its input through a code.

With nonlinear layers and a cross-entropy loss it is the deep autoencoder of Hinton & Salakhutdinov (2006).
With no nonlinearity and a squared loss (`linear_ae_mnist`), its optimum spans the same subspace as the
top-k principal components of the data: PCA learned by gradient descent.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo.errors import ZooError
from zoo.models.base import ImageAutoencoder, replica_mean

LOSSES = ("bce", "mse")


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(ImageAutoencoder):
    """Dense encoder input_dim -> hidden_units -> latent_dim, mirrored decoder back to input_dim.

    The decoder's last layer yields logits; `decoder` applies `output_activation` on top, and the loss
    uses the logits for a numerically stable cross-entropy.
    """

    family = "autoencoder"

    def __init__(self, input_dim=784, hidden_units=(512, 256), latent_dim=30, activation="relu",
                 latent_activation=None, output_activation="sigmoid", loss="bce", **kwargs):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ZooError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "bce" and output_activation != "sigmoid":
            raise ZooError("loss='bce' needs output_activation='sigmoid'")
        if not all(isinstance(u, int) and u > 0 for u in list(hidden_units) + [latent_dim, input_dim]):
            raise ZooError(f"hidden_units, latent_dim and input_dim must be positive integers, got "
                           f"{hidden_units!r}, {latent_dim!r}, {input_dim!r}")
        hidden_units = [int(u) for u in hidden_units]
        self._config = dict(input_dim=input_dim, hidden_units=hidden_units, latent_dim=latent_dim,
                            activation=activation, latent_activation=latent_activation,
                            output_activation=output_activation, loss=loss)
        self.input_dim, self.latent_dim, self.loss_kind = input_dim, latent_dim, loss

        x = keras.Input((input_dim,), name="image")
        h = x
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation=activation, name=f"enc_{i}")(h)
        code = keras.layers.Dense(latent_dim, activation=latent_activation, name="code")(h)
        self.encoder = keras.Model(x, code, name="encoder")

        z = keras.Input((latent_dim,), name="z")
        h = z
        for i, units in enumerate(reversed(hidden_units)):
            h = keras.layers.Dense(units, activation=activation, name=f"dec_{i}")(h)
        logits = keras.layers.Dense(input_dim, name="logits")(h)
        self.decoder_logits = keras.Model(z, logits, name="decoder_logits")
        pixels = keras.layers.Activation(output_activation or "linear", name="pixels")(logits)
        self.decoder = keras.Model(z, pixels, name="decoder")

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.se_tracker = keras.metrics.Mean(name="squared_error")
        self.built = True  # encoder and decoder are built above; nothing is left to infer from data

    @property
    def metrics(self):
        return [self.loss_tracker, self.se_tracker]

    def _loss_terms(self, x, training):
        logits = self.decoder_logits(self.encoder(x, training=training), training=training)
        return reconstruction_terms(x, logits, self.loss_kind, self._config["output_activation"])

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            rec, se = self._loss_terms(x, training=True)
            loss = replica_mean(rec)
            if self.losses:
                loss += tf.add_n(self.losses)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        return self.metric_logs()

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        rec, se = self._loss_terms(x, training=False)
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        return self.metric_logs()


    def is_linear(self):
        c = self._config
        return not c["hidden_units"] and c["latent_activation"] is None and c["output_activation"] is None

    def card_extras(self, splits):
        """PCA with the same k, fitted on the same training split, as the baseline the card reports beside
        the model; for the linear model, the principal angles between its decoder span and that PCA."""
        x_train, x_test = splits["train"][0].astype(np.float64), splits["test"][0].astype(np.float64)
        k = self.latent_dim
        mean, components = pca(x_train, k)
        rec = (x_test - mean) @ components.T @ components + mean
        extras = {"pca_baseline": {"k": k, "fitted_on": "train split",
                                   "squared_error_per_image": round(float(np.sum((rec - x_test) ** 2, 1).mean()), 4)}}
        if self.is_linear():
            angles = principal_angles_deg(self.decoder_span(), components.T)
            extras["pca_principal_angles_deg"] = {"max": round(float(angles.max()), 3),
                                                  "mean": round(float(angles.mean()), 3)}
        return extras

    def decoder_span(self):
        """(input_dim, latent_dim) basis of the decoder's output subspace (the columns of W_dec^T)."""
        return np.asarray(self.decoder_logits.get_layer("logits").kernel).T


def reconstruction_terms(x, logits, loss_kind, output_activation):
    """Per-example reconstruction loss (cross-entropy from logits, or squared error) and squared error.

    Under mixed precision the network computes in float16; the losses stay float32.
    """
    logits, x = tf.cast(logits, tf.float32), tf.cast(x, tf.float32)
    pixels = keras.activations.get(output_activation or "linear")(logits)
    se = tf.reduce_sum(tf.square(pixels - x), axis=-1)
    if loss_kind == "bce":
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=-1), se
    return se, se


def pca(x, k):
    """Mean and top-k principal directions (k, d) of rows x, by SVD of the centred data."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k]


def principal_angles_deg(a, b):
    """Principal angles in degrees between the column spans of a (d, k) and b (d, k)."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


# Presets: plain dicts beside the model they configure. `train` holds the seeded recipe that made the weights.
PRESETS = {
    "ae_mnist": {
        "class": Autoencoder,
        "family": "autoencoder",
        "description": "Deep undercomplete autoencoder 784-512-256-30-256-512-784, ReLU, sigmoid output, "
                       "cross-entropy loss.",
        "config": dict(hidden_units=[512, 256], latent_dim=30, activation="relu",
                       output_activation="sigmoid", loss="bce"),
        "train": dict(epochs=60, batch_size=128, learning_rate=1e-3),
    },
    "linear_ae_mnist": {
        "class": Autoencoder,
        "family": "autoencoder",
        "description": "Linear autoencoder 784-30-784 with squared loss: learns the PCA subspace (k=30).",
        "config": dict(hidden_units=[], latent_dim=30, activation=None, output_activation=None, loss="mse"),
        "train": dict(epochs=100, batch_size=128, learning_rate=3e-3),
    },
}
