"""A family that lives outside the zoo package, for tests/test_family_contract.py: the proof that adding a
family edits no core file. It is registered with `zoo.families.register(module)` in a test process and with
`ZOO_FAMILIES=tests.tiny_family` (repository root on PYTHONPATH) for the command line.

The model is the simplest density model of images there is: every pixel an independent Bernoulli variable
with its own learned probability (784 parameters). Its maximum-likelihood fit is the mean training image, so
what training should reach is known in closed form. It uses only what any family may use: zoo.base,
zoo.layers, zoo.checks and zoo.figures.
"""

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from zoo import checks, figures
from zoo.base import ExportPart, ZooModel, batched
from zoo.errors import ZooError
from zoo.layers import image_rows, like_input, replica_mean

FAMILY = "pixel_marginals"


@keras.saving.register_keras_serializable(package="zoo")
class PixelLogits(keras.layers.Layer):
    """One logit l_j per pixel. Called on rows x in [0, 1], it gives each row's Bernoulli log-likelihood in
    nats, sum_j x_j log p_j + (1 - x_j) log(1 - p_j) with p = sigmoid(l), which is linear in x:
    x . l + sum_j log sigmoid(-l_j)."""

    def __init__(self, units=784, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape=None):
        self.logits = self.add_weight(shape=(self.units,), initializer="zeros", name="logits")
        self.built = True

    def call(self, rows):
        # log and logistic are LiteRT builtins, so the exported scorer needs no select TF ops.
        return ops.matmul(rows, self.logits[:, None])[:, 0] + ops.sum(ops.log(ops.sigmoid(-self.logits)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo")
class PixelMarginals(ZooModel):
    """Independent Bernoulli pixels. `model(x)` is the model's mean image in x's layout; `log_likelihood(x)`
    scores images; `sample(n, seed=...)` draws binary images."""

    family = FAMILY
    generative = True

    def __init__(self, input_dim=784, seed=0, **kwargs):
        super().__init__(**kwargs)
        self._config = dict(input_dim=checks.count(input_dim, "input_dim"), seed=checks.count(seed, "seed", 0))
        self.input_dim = self._config["input_dim"]
        self.pixels = PixelLogits(self.input_dim, name="pixels")
        self.pixels.build((None, self.input_dim))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.finish(np.zeros((1, self.input_dim), np.float32), optimizer=keras.optimizers.Adam(0.1))

    @classmethod
    def parameter_count(cls, config):
        return int(config.get("input_dim", 784))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x, training=False):
        rows = image_rows(x)
        return like_input(ops.zeros_like(rows) + ops.sigmoid(self.pixels.logits), x)

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            nll = -self.pixels(image_rows(x))
            loss = replica_mean(nll)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(nll)
        return self.metric_logs()

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.loss_tracker.update_state(-self.pixels(image_rows(x)))
        return self.metric_logs()

    # -- NumPy-facing API -------------------------------------------------------------------------------------
    def mean_image(self):
        return np.asarray(ops.sigmoid(self.pixels.logits))

    def log_likelihood(self, x):
        rows, _ = checks.as_images(x, "x")
        return batched(self.pixels, rows)

    def sample(self, n, *, labels=None, seed=None):
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; sample it without labels")
        u = np.random.default_rng(seed).random((n, self.input_dim), dtype=np.float32)
        return (u < self.mean_image()).astype(np.float32).reshape((n,) + checks.IMAGE_SHAPE)

    def test_metrics(self, x, y=None):
        return {"nll_per_image": float(-np.mean(self.log_likelihood(x)))}


# -- hooks ------------------------------------------------------------------------------------------------------
def card_metrics(model, data):
    """The optimum for comparison: the training split's own mean image (clipped away from 0 and 1) scored on
    the test split."""
    p = np.clip(data["train"][0].astype(np.float64).mean(axis=0), 1e-4, 1 - 1e-4)
    x = data["test"][0].astype(np.float64)
    nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1).mean()
    return {"train_mean_image": {"nll_per_image": round(float(nll), 4), "clip": 1e-4}}


def pictures(model, data):
    figs = {"samples.png": figures.image_grid(model.sample(20, seed=0), cols=10,
                                              title=f"{model.name}: 20 samples")}
    rows, labels = [model.mean_image()], ["model"]
    if data is not None:
        rows.append(data["train"][0].mean(axis=0))
        labels.append("train split")
    figs["mean_image.png"] = figures.image_grid(np.stack(rows), cols=1, row_labels=labels,
                                                title=f"{model.name}: pixel probabilities")
    return figs


def preview(model, data):
    return pictures(model, data)["mean_image.png"]


def export_parts(model, data):
    """scorer: image rows -> log-likelihood per pixel (nats per image / 784), near 1 in size. The exporter's
    float32 bound scales with the outputs (export.validate.max_abs_bound), so per image (about -200 nats,
    where a float32 ulp is 1.5e-5) would be held to the same number of ulps."""
    image = keras.Input((model.input_dim,), name="image")
    per_pixel = keras.layers.Rescaling(1.0 / model.input_dim, name="per_pixel")(model.pixels(image))
    scorer = keras.Model(image, {"log_likelihood_per_pixel": per_pixel}, name="scorer")

    def inputs(n, seed):
        rng = np.random.default_rng(seed)
        if data is None:
            return [rng.random((n, model.input_dim), dtype=np.float32)]
        x = data["train"][0]
        return [x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]]

    def metric(runner):
        if data is None:
            return None
        x = data["test"][0]
        exported = float(-np.mean(runner([x])[0])) * model.input_dim
        keras_value = float(-np.mean(model.log_likelihood(x)))
        return {"name": "nll_per_image", "split": "test", "images": int(len(x)), "chain": "exported scorer",
                "exported": round(exported, 4), "keras": round(keras_value, 4),
                "relative_diff": round((exported - keras_value) / keras_value, 6)}

    return {"scorer": ExportPart(scorer, inputs, metric, 0.02, "image rows -> log-likelihood per pixel, nats")}


PRESETS = {
    "pixel_marginals_mnist": {
        "class": PixelMarginals, "data": "mnist",
        "description": "Independent Bernoulli pixels (784 parameters): a test family from outside the package.",
        "config": {},
        "train": dict(epochs=1, batch_size=128, learning_rate=0.1),
    },
}
