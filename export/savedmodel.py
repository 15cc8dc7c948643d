"""TensorFlow SavedModel export through Keras 3's `model.export(format="tf_saved_model")`, loading with
clear errors, and a runner over its serving_default signature."""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from export.litert import _umask, quiet_stderr
from export.parts import ExportError
from zoo.registry import swap_in_dir


def dir_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def convert(part_model, path):
    """Write part_model as a SavedModel directory at `path`, atomically: a temporary sibling directory
    is written and checked, then swapped in (the old one moved aside first, removed after)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        with quiet_stderr():
            part_model.export(str(tmp), format="tf_saved_model", verbose=False)
        load_saved_model(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        swap_in_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_saved_model(path):
    """tf.saved_model.load(path), or ExportError naming the directory when it is missing or corrupt."""
    import tensorflow as tf

    path = Path(path)
    if not path.is_dir():
        raise ExportError(f"{path} is not a SavedModel directory (it does not exist)")
    if not (path / "saved_model.pb").is_file():
        raise ExportError(f"{path} is not a SavedModel: saved_model.pb is missing")
    try:
        with quiet_stderr():
            loaded = tf.saved_model.load(str(path))
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ExportError(f"{path} is a corrupt or truncated SavedModel: {type(e).__name__}: {first}") from None
    if "serving_default" not in loaded.signatures:
        raise ExportError(f"{path} has no serving_default signature")
    return loaded


class SavedModelRunner:
    """Calls serving_default with float inputs in the Keras part's input order."""

    def __init__(self, path, input_order):
        import tensorflow as tf

        self.tf = tf
        self.loaded = load_saved_model(path)
        self.fn = self.loaded.signatures["serving_default"]
        _, spec = self.fn.structured_input_signature
        missing = [n for n in input_order if n not in spec]
        if missing:
            raise ExportError(f"{path} has inputs {sorted(spec)}, the Keras part has {list(input_order)}")
        self.input_order = list(input_order)
        self.output_order = sorted(self.fn.structured_outputs, key=lambda n: (len(n), n))

    def run_once(self, inputs):
        out = self.fn(**{n: self.tf.constant(x, self.tf.float32) for n, x in zip(self.input_order, inputs)})
        return [np.asarray(out[n]) for n in self.output_order]

    def __call__(self, inputs, batch_size=512):
        n = len(inputs[0])
        chunks = [self.run_once([x[i:i + batch_size] for x in inputs]) for i in range(0, n, batch_size)]
        return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(chunks[0]))]
