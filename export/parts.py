"""Which model, which part, and what data to feed it.

A zoo model is an autoencoder-style keras.Model whose parts (`encoder`, `decoder`, and `generator` for
generator-style families) are functional keras.Models in their own right; a part is what gets exported.
Inputs are named by the part's Keras Input layers; by convention the first input of an encoder is the
image rows (N, 784), the first input of a decoder or generator is the latent code (N, latent_dim), and
any further input is a one-hot class label (N, 10) for class-conditional families.
"""

from pathlib import Path

import numpy as np
import keras

import zoo
from zoo import data as zdata
from zoo import registry
from zoo.errors import DataUnavailable, ZooError

from export.names import PARTS
NUM_CLASSES = 10


class ExportError(ZooError):
    """An export could not be made, loaded or checked; the message names the file or part."""


def resolve_model(model_or_name):
    """A keras.Model, a registry name (pretrained weights) or a folder holding model.keras ->
    (model, name, source)."""
    if isinstance(model_or_name, keras.Model):
        return model_or_name, model_or_name.name, None
    text = str(model_or_name)
    model = zoo.load(text)
    path = Path(text)
    if path.is_dir():
        return model, path.resolve().name, str(path)
    return model, text, str(registry.saved_models_dir() / text)


def family_of(model, name=None):
    try:
        return registry.preset(name)["family"]
    except Exception:
        return getattr(model, "family", "unknown")


def available_parts(model):
    parts = [p for p in PARTS if p != "classifier" and isinstance(getattr(model, p, None), keras.Model)]
    if is_classifier(model):
        parts.append("classifier")
    return parts


def is_classifier(model):
    return getattr(model, "family", None) == "classifier"


def classifier_part(model):
    """The whole classifier (images -> class probabilities) as a functional model sharing its weights, so
    the exporter sees named inputs like any other part."""
    image = keras.Input((int(model.encoder.inputs[0].shape[-1]),), name="image")
    return keras.Model(image, model(image, training=False), name="classifier")


def get_part(model, part, name=None):
    if part not in PARTS:
        raise ExportError(f"unknown part {part!r}; expected one of {', '.join(PARTS)}")
    if part == "classifier" and is_classifier(model):
        return classifier_part(model)
    sub = getattr(model, part, None)
    if not isinstance(sub, keras.Model):
        have = available_parts(model)
        raise ExportError(f"{name or model.name} has no {part}; it has: {', '.join(have) or 'no exportable parts'}")
    return sub


def input_names(part_model):
    return [t.name for t in part_model.inputs]


def to_list(outputs):
    if isinstance(outputs, dict):
        return [np.asarray(v) for v in outputs.values()]
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o) for o in outputs]
    return [np.asarray(outputs)]


def keras_predict(part_model, inputs, batch_size=512):
    """Direct calls (no `predict` loop) in chunks; returns the list of output arrays."""
    n = len(inputs[0])
    chunks = []
    for i in range(0, n, batch_size):
        args = [x[i:i + batch_size] for x in inputs]
        out = part_model(args if len(args) > 1 else args[0], training=False)
        chunks.append(to_list(out))
    return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(chunks[0]))]


def onehot(labels):
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels, np.int64)]


# Parts whose input is images (calibrated and compared on real images, not latent codes).
IMAGE_PARTS = ("encoder", "classifier")


def bce_per_image(x, p):
    """Bernoulli cross-entropy per image in nats, as zoo's test_metrics computes it (clip 1e-7)."""
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    x = np.asarray(x, np.float64)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


_SPLITS = {}


def mnist(required=False, reason=""):
    """zoo.data.mnist_splits(), cached; None when no data is reachable (unless required)."""
    if "s" not in _SPLITS:
        try:
            _SPLITS["s"] = zdata.mnist_splits()
        except DataUnavailable as e:
            _SPLITS["s"] = None
            _SPLITS["err"] = str(e)
    if _SPLITS["s"] is None and required:
        raise ExportError(f"{reason} needs MNIST training images: {_SPLITS.get('err')}")
    return _SPLITS["s"]


class PartData:
    """Inputs for one part of one model: a fixed seeded comparison batch, a representative data set for
    int8 calibration, and a task metric through any runner (a function list-of-inputs -> list-of-outputs)."""

    def __init__(self, model, part, name=None):
        self.model, self.part = model, part
        self.name = name or model.name
        self.part_model = get_part(model, part, self.name)
        self.names = input_names(self.part_model)
        self.shapes = [tuple(t.shape) for t in self.part_model.inputs]
        self.labelled = bool(getattr(model, "needs_labels", False)) or len(self.names) > 1
        enc = getattr(model, "encoder", None)
        self.variational = isinstance(enc, keras.Model) and len(enc.outputs) == 2

    # -- helpers --------------------------------------------------------------------------------------
    def _extra_inputs(self, labels):
        """One-hot labels for every input after the first."""
        return [onehot(labels) for _ in self.names[1:]]

    def _latent_dim(self):
        return int(self.shapes[0][-1])

    def encode(self, x, y, runner=None, sample=False, seed=0):
        """Latent codes of images x: the code (plain AE) or z_mean (VAE); posterior samples if sample."""
        enc_inputs = [x] + ([onehot(y)] if len(self.model.encoder.inputs) > 1 else [])
        outs = runner(enc_inputs) if runner is not None else keras_predict(self.model.encoder, enc_inputs)
        if len(outs) == 2:
            mu, logvar = outs
            if sample:
                eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
                return (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)
            return mu.astype(np.float32)
        return outs[0].astype(np.float32)

    def decode(self, z, y, runner=None):
        dec_inputs = [z] + ([onehot(y)] if len(self.model.decoder.inputs) > 1 else [])
        outs = runner(dec_inputs) if runner is not None else keras_predict(self.model.decoder, dec_inputs)
        return outs[0]

    # -- what the export pipeline asks for ---------------------------------------------------------------
    def comparison_batch(self, n=64, seed=0):
        """A fixed seeded batch: test images for encoders (uniform noise if no data), N(0, I) codes for
        decoders and generators; random one-hot labels for further inputs."""
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, NUM_CLASSES, n)
        if self.part in IMAGE_PARTS:
            splits = mnist()
            if splits is not None:
                x_test, y_test = splits["test"]
                idx = rng.choice(len(x_test), n, replace=False)
                return [x_test[idx]] + self._extra_inputs(y_test[idx])
            return [rng.random((n, int(self.shapes[0][-1])), dtype=np.float32)] + self._extra_inputs(labels)
        z = rng.standard_normal((n, self._latent_dim())).astype(np.float32)
        return [z] + self._extra_inputs(labels)

    def representative(self, n=2000, batch=50, seed=0):
        """Calibration inputs as a list of {input name: array} dicts, one per batch.

        Encoders: real training images. Decoders: codes of training images (posterior samples and means
        for VAEs, codes for plain AEs) plus prior N(0, I) samples for variational families; with the
        images' own one-hot labels for class-conditional models (random labels for the prior samples).
        Generators: prior samples.
        """
        rng = np.random.default_rng(seed)
        splits = mnist(required=self.part != "generator", reason=f"int8 calibration of the {self.part}")
        if splits is not None:
            x_train, y_train = splits["train"]
            idx = rng.choice(len(x_train), min(n, len(x_train)), replace=False)
            x, y = x_train[idx], y_train[idx]
        if self.part in IMAGE_PARTS:
            sets = [[x] + self._extra_inputs(y)]
        elif self.part == "generator":
            yl = rng.integers(0, NUM_CLASSES, n)
            sets = [[rng.standard_normal((n, self._latent_dim())).astype(np.float32)] + self._extra_inputs(yl)]
        else:
            if self.variational:
                half = len(x) // 2
                z_post = self.encode(x[:half], y[:half], sample=True, seed=seed)
                z_mean = self.encode(x[half:], y[half:])
                prior_n = len(x) // 2
                yp = rng.integers(0, NUM_CLASSES, prior_n)
                z_prior = rng.standard_normal((prior_n, self._latent_dim())).astype(np.float32)
                sets = [[z_post] + self._extra_inputs(y[:half]), [z_mean] + self._extra_inputs(y[half:]),
                        [z_prior] + self._extra_inputs(yp)]
            else:
                sets = [[self.encode(x, y)] + self._extra_inputs(y)]
        # interleave batches from every source so no source dominates the converter's min/max
        batches = []
        for s in sets:
            m = len(s[0])
            batches.append([[a[i:i + batch] for a in s] for i in range(0, m, batch)])
        out = []
        for k in range(max(len(b) for b in batches)):
            for b in batches:
                if k < len(b):
                    out.append({n: a.astype(np.float32) for n, a in zip(self.names, b[k])})
        return out

    def metric(self, runner, n=None):
        """Task figure on test images through the runner in place of this part, next to Keras's.

        decoder: BCE per image of Keras encoder (code / z_mean) -> runner.
        encoder: BCE per image of runner (code / z_mean) -> Keras decoder.
        generator: no data-driven metric (None).
        """
        splits = mnist()
        if splits is not None and self.part == "classifier":
            x, y = splits["test"]
            x, y = (x[:n], y[:n]) if n else (x, y)
            e = float(np.mean(np.argmax(runner([x])[0], axis=-1) == y))
            k = float(np.mean(np.argmax(keras_predict(self.part_model, [x])[0], axis=-1) == y))
            return {"name": "accuracy", "split": "test", "images": int(len(x)), "chain": "exported classifier",
                    "exported": round(e, 4), "keras": round(k, 4), "relative_diff": round((e - k) / k, 6)}
        if splits is None or self.part == "generator" or not hasattr(self.model, "decoder"):
            return None
        x, y = splits["test"]
        if n:
            x, y = x[:n], y[:n]
        if self.part == "decoder":
            z = self.encode(x, y)
            exported = self.decode(z, y, runner=runner)
            keras_p = self.decode(z, y)
        else:
            exported = self.decode(self.encode(x, y, runner=runner), y)
            keras_p = self.decode(self.encode(x, y), y)
        e, k = bce_per_image(x, exported), bce_per_image(x, keras_p)
        chain = ("keras encoder -> exported decoder" if self.part == "decoder"
                 else "exported encoder -> keras decoder")
        return {"name": "bce_per_image", "split": "test", "images": int(len(x)), "chain": chain,
                "exported": round(e, 4), "keras": round(k, 4), "relative_diff": round((e - k) / k, 6)}
