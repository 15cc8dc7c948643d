"""What every zoo model shares: config in, Keras model out, and the contract the core relies on.

A zoo model is a `keras.Model` subclass built from plain config values. `__init__` stores the config and
builds the networks; `get_config` returns exactly that config; `finish()` (called at the end of every
subclass's `__init__`) calls the model once so Keras records its input signature (export needs it) and
compiles it with the family's defaults, so a model fresh from `create_model` or a file is ready for
`fit`, `evaluate`, `predict` and `export`.

The core reads a few class attributes and methods, nothing else:
- `family`, `generative` (has `sample(n, *, labels=None, seed=None)`), `conditional` (takes labels);
- `test_metrics(x, y=None)`: the card's headline figures on a split;
- `parameter_count(config)`: a classmethod estimating parameters from a config, so a loader can refuse a
  config that asks for billions before anything is allocated.

The model boundary: `model(x)`, `predict` and `evaluate` check numpy input (arrays, Python numbers and lists,
dicts of them) before Keras sees it, against the contract the family declares next to its class header:
`input_kind` ("images", "tokens", "ids", "rows" or None), `target_kind` (what evaluate's y is), and, for
conditional models, {"image": images, "label": labels} with labels in 0..num_classes-1. Widths come from the
example `finish()` built the model on. Tensors, KerasTensors, Variables and pipelines (tf.data, generators) pass
untouched: the traced train, test and predict steps call the model on tensors, so they never run a check.
"""

import dataclasses
from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, io
from zoo.compat import MultiWorkerFit
from zoo.errors import ZooError


def _numpy_like(x):
    """True for what Keras would turn into tensors itself: numpy arrays and scalars, Python numbers, strings and
    (nested) lists, tuples and dicts of them. A tensor, KerasTensor, Variable, tf.data.Dataset, generator or None
    anywhere in it means a graph or a pipeline, which is left to Keras."""
    if isinstance(x, (np.ndarray, np.generic, int, float, str, bytes)):
        return True
    if isinstance(x, dict):
        return bool(x) and all(_numpy_like(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(_numpy_like(v) for v in x)
    return False


class _Example:
    """The per-example shape of the input finish() built the model on (a plain object: Keras tracks no state
    in it)."""
    shape = None


class ZooModel(MultiWorkerFit, keras.Model):
    family = None
    generative = False
    conditional = False
    predict_batch_size = 1024
    # What model(x), predict and evaluate take from numpy, checked before Keras sees it (check_input):
    #   "images": uint8 (0..255, scaled in the graph) or float pixels in [0, 1], (N, P) rows of the P values per
    #             example the model was built on, or (N, 28, 28[, channels]) when P is 784 x channels; model(x)
    #             also takes one image without the batch axis, as the graph reshapes it;
    #   "tokens": integer ids in 0..vocab_size-1 with the axes of the example ((batch, time) for a CharLM);
    #   "ids": integer ids in 0..vocab_size-1 of any shape (word-vector lookups);
    #   "rows": finite real vectors (N, P) (perceptron inputs, observations);
    #   None: finite numbers of any shape (a family that declares nothing).
    input_kind = None
    # What evaluate's y is, checked the same way: "labels" (one class in 0..num_classes-1 per example), "binary"
    # (0 or 1 per example), "tokens" (ids shaped like x), "images" (a denoiser's clean target when y has two or
    # more axes; the model ignores a 1-D y) or None (not read by the model's test step, so not checked).
    target_kind = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._config = {}
        self._boundary = _Example()

    # -- construction -------------------------------------------------------------------------------------
    def finish(self, example, **compile_kwargs):
        """Call once on `example` (records the input signature, and the per-example shape the boundary checks
        use) and compile with the family's defaults."""
        main = example["image"] if isinstance(example, dict) else example
        self._boundary.shape = tuple(int(d) for d in np.shape(main)[1:])
        self(example, training=False)
        self.compile(**compile_kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self._config}

    # Every zoo model compiles itself in __init__ (finish), so a file needs no compile config, and a loaded
    # model's optimizer stays unbuilt until training, matching the state the file holds.
    def get_compile_config(self):
        return {}

    def compile_from_config(self, config):
        pass

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def parameter_count(cls, config):
        return None

    @classmethod
    def check_budget(cls, config):
        n = cls.parameter_count(config)
        if n is not None and n > checks.MAX_PARAMETERS:
            raise ZooError(f"this config implies {n:,} parameters, above the limit of {checks.MAX_PARAMETERS:,}")

    @classmethod
    def from_preset(cls, name_or_dir):
        """The pretrained model for a registered name or a folder (keras-hub style)."""
        model = io.load_preset(name_or_dir)
        if not isinstance(model, cls):
            raise ZooError(f"{name_or_dir} is a {type(model).__name__}, not a {cls.__name__}")
        return model

    # -- helpers ------------------------------------------------------------------------------------------
    def count_params_unique(self):
        """Parameters counted once even when shared (tied weights)."""
        return int(sum({id(w): int(np.prod(w.shape)) for w in self.weights}.values()))

    def test_metrics(self, x, y=None):
        raise NotImplementedError

    # -- the model boundary: numpy input checked before Keras sees it ---------------------------------------
    def __call__(self, *args, **kwargs):
        if args and _numpy_like(args[0]):
            args = (self.check_input(args[0], single=True), *args[1:])
        return super().__call__(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        if _numpy_like(x):
            x = self.check_input(x)
        return super().predict(x, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        if _numpy_like(x):
            x, y = self.check_evaluate(x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def check_input(self, x, single=False):
        """x as model(x) and predict take it, checked against the family's contract (ZooError, one line, on a
        mismatch); returns what to hand Keras: the caller's own arrays, lists as arrays. `single` accepts one
        image without the batch axis (model(x) only)."""
        if self.conditional:
            if not isinstance(x, dict) or set(x) != {"image", "label"}:
                raise ZooError(f"{self.name} takes a dict {{'image': images, 'label': labels}}, got "
                               f"{sorted(x) if isinstance(x, dict) else type(x).__name__}")
            image = self._check_plain(x["image"], "image", single)
            n = 1 if image.ndim in (1, 3) and image.shape in checks.image_layouts(*self._pixels()) else len(image)
            return {"image": image, "label": checks.model_labels(x["label"], n, self.num_classes, "label")}
        return self._check_plain(x, "x", single)

    def check_evaluate(self, x, y=None):
        """(x, y) as evaluate takes them, checked against the family's contract; returns what to hand Keras.
        A y that is not numpy (a tensor) is handed on unchecked."""
        check_y = y is not None and _numpy_like(y)
        if self.conditional and not isinstance(x, dict):
            # images, with their labels as y: the form fit((x, y)) trains on
            x = self._check_plain(x, "x")
            if y is None:
                raise ZooError(f"{self.name} evaluates images with labels: evaluate({{'image': x, 'label': y}}) "
                               "or evaluate(x, y)")
            return x, checks.model_labels(y, len(x), self.num_classes, "y") if check_y else y
        x = self.check_input(x)
        if not check_y or self.conditional:    # a conditional model's labels came in the dict; y is not read
            return x, y
        n = len(x) if isinstance(x, np.ndarray) and x.ndim else 1
        kind = self.target_kind
        if kind == "labels":
            y = checks.model_labels(y, n, self.num_classes, "y")
        elif kind == "binary":
            y = checks.model_labels(y, n, 2, "y", what="binary target")
        elif kind == "tokens":
            y = checks.model_ids(y, self.vocab_size, "y", what="next-token id")
            if y.shape != x.shape:
                raise ZooError(f"y: expected next-token ids shaped like x, {x.shape}, got shape {y.shape}")
        elif kind == "images" and np.ndim(y) >= 2:
            y = self._check_plain(y, "y")
            if len(y) != n:
                raise ZooError(f"y: expected one target image per input image ({n}), got {len(y)}")
        return x, y

    def _pixels(self):
        """(values per example, channels) of the example the model was built on."""
        shape = self._boundary.shape
        return int(np.prod(shape)), (shape[-1] if len(shape) == 3 else 1)

    def _check_plain(self, x, name, single=False):
        kind = self.input_kind
        if kind == "images":
            pixels, channels = self._pixels()
            return checks.model_images(x, pixels, name, channels, single)
        if kind == "rows":
            return checks.model_rows(x, self._pixels()[0], name)
        if kind == "tokens":
            rank = len(self._boundary.shape) + 1
            return checks.model_ids(x, self.vocab_size, name, rank=rank,
                                    layout="(batch, time)" if rank == 2 else f"with {rank} axes")
        if kind == "ids":
            return checks.model_ids(x, self.vocab_size, name, what="word id")
        if isinstance(x, dict):
            return {k: checks.model_finite(v, f"{name}[{k!r}]") for k, v in x.items()}
        if isinstance(x, (list, tuple)) and any(isinstance(v, np.ndarray) for v in x):
            return type(x)(checks.model_finite(v, f"{name}[{i}]") for i, v in enumerate(x))
        return checks.model_finite(x, name)


def batched(fn, arrays, batch_size=1024):
    """fn over chunks of equally long arrays; outputs (an array, a list or a dict of arrays) concatenated.

    The one place the zoo calls a network on more rows than fit in one call."""
    arrays = [np.asarray(a) for a in (arrays if isinstance(arrays, (list, tuple)) else [arrays])]
    n = len(arrays[0])
    chunks = []
    for i in range(0, n, batch_size):
        out = fn(*[tf.constant(a[i:i + batch_size]) for a in arrays])
        chunks.append(out)
    first = chunks[0]
    if isinstance(first, dict):
        return {k: np.concatenate([np.asarray(c[k]) for c in chunks]) for k in first}
    if isinstance(first, (list, tuple)):
        return [np.concatenate([np.asarray(c[k]) for c in chunks]) for k in range(len(first))]
    return np.concatenate([np.asarray(c) for c in chunks])


def metric_report(name, exported, keras_value, *, digits=None, **details):
    """An ExportPart metric's report: the task figure through the exported file next to Keras's, and their
    relative difference, taken before any rounding (`digits` rounds the two figures, the difference to 6)."""
    relative = (exported - keras_value) / keras_value
    if digits is not None:
        exported, keras_value, relative = round(exported, digits), round(keras_value, digits), round(relative, 6)
    return {"name": name, **details, "exported": exported, "keras": keras_value, "relative_diff": relative}


@dataclasses.dataclass
class ExportPart:
    """One deployable part of a model, as a family's `export_parts(model, data)` hook names it.

    model: a functional keras.Model with named inputs and a dict of named outputs (the names LiteRT
      signatures carry).
    inputs(n, seed): a list of arrays, one per input in order, drawn from real data where there is any
      (codes of real images for a decoder, not N(0, I)); used for the comparison with Keras and for int8
      calibration.
    metric(runner): the task figure through `runner` (a function list of arrays -> list of output arrays
      in the part's output order) next to Keras's: {"name", "exported", "keras", "relative_diff", ...}, as
      `metric_report` builds it.
    metric_bound: the largest relative change of that figure an int8 export may show.
    """
    model: Any
    inputs: Callable[[int, int], list]
    metric: Optional[Callable[[Callable], dict]] = None
    metric_bound: Optional[float] = None
    description: str = ""
