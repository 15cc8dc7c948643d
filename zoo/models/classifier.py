"""A pretrained encoder with a classification head: the supervised fine-tuning step of greedy pretraining
(Hinton & Salakhutdinov 2006; Vincent et al. 2010), and the same network from random weights as the
baseline it is measured against.

The encoder is a clean functional copy of the autoencoder's inference path (see zoo.finetune.clean_encoder):
plain Keras layers only, so a classifier file holds nothing but Keras classes and this one.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo.data import as_images
from zoo.errors import ZooError

HEADS = ("linear", "mlp")


def check_freeze(freeze, num_layers):
    """freeze is "all", "none" or an int in [0, num_layers]; returns how many leading layers to freeze."""
    if freeze == "all":
        return num_layers
    if freeze == "none" or freeze is None:
        return 0
    if isinstance(freeze, (bool, np.bool_)) or not isinstance(freeze, (int, np.integer)):
        raise ZooError(f"freeze must be 'all', 'none' or a number of encoder layers, got {freeze!r}")
    if not 0 <= int(freeze) <= num_layers:
        raise ZooError(f"freeze={freeze} is out of range: the encoder has {num_layers} layers with weights")
    return int(freeze)


@keras.saving.register_keras_serializable(package="zoo")
class EncoderClassifier(keras.Model):
    """encoder (rows -> code) followed by a head (code -> class probabilities).

    `encoder` is a functional keras.Model, or its serialized form (what get_config stores). The head is
    "linear" (a softmax layer on the normalised code) or "mlp" (one hidden ReLU layer, then softmax); dropout
    applies just before the softmax layer.
    `freeze` freezes the whole encoder ("all"), none of it ("none") or its first N layers with weights.
    """

    family = "classifier"
    generative = False
    needs_labels = True
    predict_batch_size = 1024

    def __init__(self, encoder=None, num_classes=10, head="linear", head_units=256, dropout=0.0, freeze="all",
                 seed=0, **kwargs):
        super().__init__(**kwargs)
        if encoder is None:
            raise ZooError("a classifier is built on an encoder: use zoo.classifier(ENCODER_NAME) or "
                           "python -m zoo finetune ENCODER_NAME")
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if not isinstance(encoder, keras.Model) or len(encoder.inputs) != 1 or len(encoder.outputs) != 1:
            raise ZooError("encoder must be a functional keras.Model with one input and one output")
        if head not in HEADS:
            raise ZooError(f"head must be one of {HEADS}, got {head!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ZooError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ZooError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.encoder = encoder
        self.input_dim = int(encoder.inputs[0].shape[-1])
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.num_classes = int(num_classes)
        self._head_config = dict(num_classes=int(num_classes), head=head, head_units=int(head_units),
                                 dropout=float(dropout), seed=int(seed))

        z = keras.Input((self.latent_dim,), name="code")
        # Codes are unnormalised (a linear code layer can reach magnitudes in the tens), which makes a softmax
        # head on them start saturated; batch normalisation puts every code on a common scale.
        # Synchronized: under a multi-replica strategy the statistics are those of the global batch, so
        # fine-tuning gives the single-process result (per-replica statistics would not).
        h = keras.layers.BatchNormalization(synchronized=True, name="code_norm")(z)
        if head == "mlp":
            h = keras.layers.Dense(head_units, activation="relu", name="head_hidden",
                                   kernel_initializer=keras.initializers.HeUniform(seed=seed + 1))(h)
        if dropout:
            h = keras.layers.Dropout(dropout, seed=seed + 2, name="head_dropout")(h)
        logits = keras.layers.Dense(num_classes, name="logits",
                                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3))(h)
        self.head_logits = keras.Model(z, logits, name="head_logits")
        # float32 softmax so probabilities stay exact under mixed precision
        probs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
        self.head = keras.Model(z, probs, name="head")
        self.set_freeze(freeze)
        # Build and call once now: Keras records the input signature on the first build and call, and
        # export() needs it; a model fresh from its config would otherwise refuse to export.
        self.build((None, self.input_dim))
        self(keras.ops.zeros((1, self.input_dim)))

    def build(self, input_shape):
        pass  # encoder and head are built above from the config

    # -- freezing ----------------------------------------------------------------------------------------
    def encoder_weight_layers(self):
        return [layer for layer in self.encoder.layers if layer.weights]

    def set_freeze(self, freeze):
        """Freeze the whole encoder ("all"), nothing ("none") or its first N layers with weights.
        A compiled model must be compiled again for the change to take effect (Keras fixes the trainable
        set when it compiles)."""
        layers = self.encoder_weight_layers()
        n = check_freeze(freeze, len(layers))
        for i, layer in enumerate(layers):
            layer.trainable = i >= n
        return self

    @property
    def freeze(self):
        layers = self.encoder_weight_layers()
        n = next((i for i, layer in enumerate(layers) if layer.trainable), len(layers))
        return "all" if n == len(layers) else "none" if n == 0 else n

    # -- config ------------------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder), **self._head_config,
                "freeze": self.freeze}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- forward ----------------------------------------------------------------------------------------
    def call(self, x, training=False):
        return self.head(self.encoder(x, training=training), training=training)

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Adam, sparse categorical cross-entropy on the probabilities, and accuracy, unless told otherwise."""
        loss = loss or keras.losses.SparseCategoricalCrossentropy()
        metrics = metrics if metrics is not None else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    # -- NumPy-facing API --------------------------------------------------------------------------------
    def _batched(self, rows):
        outs = [np.asarray(self(tf.constant(rows[i:i + self.predict_batch_size]), training=False))
                for i in range(0, len(rows), self.predict_batch_size)]
        return np.concatenate(outs, axis=0)

    def predict_proba(self, x):
        """Images (any shape zoo.data.as_images accepts) -> class probabilities (N, num_classes)."""
        rows, single = as_images(x, "x")
        p = self._batched(rows)
        return p[0] if single else p

    def classify(self, x):
        """Images -> predicted class indices."""
        p = self.predict_proba(x)
        return np.argmax(p, axis=-1)

    def encode(self, x):
        rows, single = as_images(x, "x")
        z = np.concatenate([np.asarray(self.encoder(tf.constant(rows[i:i + self.predict_batch_size]),
                                                    training=False))
                            for i in range(0, len(rows), self.predict_batch_size)])
        return z[0] if single else z

    def _labels(self, y, n):
        if y is None:
            raise ZooError("a classifier needs labels to be evaluated")
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ZooError(f"labels: expected {n} integer labels, got shape {y.shape} dtype {y.dtype}")
        if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
            raise ZooError(f"labels must lie in [0, {self.num_classes}), got range [{y.min()}, {y.max()}]")
        return y

    def test_metrics(self, x, y=None):
        """Accuracy and error rate (fractions) on images x with integer labels y."""
        rows, _ = as_images(x, "x")
        y = self._labels(y, len(rows))
        pred = np.argmax(self._batched(rows), axis=-1)
        acc = float(np.mean(pred == y))
        return {"accuracy": acc, "error": 1.0 - acc}

    def confusion(self, x, y):
        rows, _ = as_images(x, "x")
        y = self._labels(y, len(rows))
        pred = np.argmax(self._batched(rows), axis=-1)
        m = np.zeros((self.num_classes, self.num_classes), np.int64)
        np.add.at(m, (y, pred), 1)
        return m

    def pictures(self, x=None, y=None):
        """{"confusion.png": rows true class, columns predicted, grey level log count} or {} without data."""
        if x is None or y is None:
            return {}
        m = self.confusion(x, y).astype(np.float64)
        img = np.log1p(m) / max(np.log1p(m.max()), 1e-12)
        # 8x8 pixels per cell so the picture is legible at its natural size
        return {"confusion.png": np.kron(img, np.ones((8, 8))).astype(np.float32)}

    def count_params_unique(self):
        seen = {id(w): int(np.prod(w.shape)) for w in self.weights}
        return int(sum(seen.values()))


# Built through zoo.finetune.classifier (it needs the pretrained encoder), so the preset names an encoder
# rather than a class config the registry can instantiate alone.
PRESETS = {
    "mnist_classifier": {
        "class": EncoderClassifier,
        "family": "classifier",
        "description": "Digit classifier: the pretrained ae_mnist encoder (784-512-256-30) plus a 256-unit ReLU "
                       "head with dropout; head trained first, then everything end to end, on all 15,000 "
                       "training labels with random shifts of up to 2 pixels.",
        "config": dict(num_classes=10, head="mlp", dropout=0.25, freeze="all"),
        "encoder": "ae_mnist",
        "train": dict(epochs_head=2, epochs_all=50, lr_head=3e-3, lr_all=2e-3, batch_size=128, shift=2),
    },
}
