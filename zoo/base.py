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
"""

import dataclasses
from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, io
from zoo.compat import MultiWorkerFit
from zoo.errors import ZooError


class ZooModel(MultiWorkerFit, keras.Model):
    family = None
    generative = False
    conditional = False
    predict_batch_size = 1024

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._config = {}

    # -- construction -------------------------------------------------------------------------------------
    def finish(self, example, **compile_kwargs):
        """Call once on `example` (records the input signature) and compile with the family's defaults."""
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
