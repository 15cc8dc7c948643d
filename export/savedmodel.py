"""TensorFlow SavedModel export through Keras 3's `model.export(format="tf_saved_model")`, loading with clear
errors and a check of the serving signature, and a runner that returns outputs in the Keras part's order."""

import shutil
import tempfile
from pathlib import Path

import numpy as np

from export.litert import input_signature, quiet_stderr
from export.parts import ExportError, input_names, output_names
from zoo import io as zio


def dir_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def convert(part_model, path, batch=None):
    """Write part_model as a SavedModel directory at `path`: into a temporary sibling, checked (signature
    names), then swapped in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name.lstrip('.')}.tmp-", dir=path.parent))
    try:
        kw = {"input_signature": input_signature(part_model, batch)} if batch else {}
        with quiet_stderr():
            part_model.export(str(tmp), format="tf_saved_model", verbose=False, **kw)
        load_saved_model(tmp, input_names(part_model), output_names(part_model))
        zio.swap_in_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_saved_model(path, inputs=None, outputs=None):
    """tf.saved_model.load(path) after checking it, or ExportError naming the directory when it is missing,
    corrupt, truncated or lacks the expected serving_default inputs and outputs."""
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
    fn = loaded.signatures["serving_default"]
    have_in, have_out = sorted(fn.structured_input_signature[1]), sorted(fn.structured_outputs)
    for what, want, have in (("inputs", inputs, have_in), ("outputs", outputs, have_out)):
        if want is not None and sorted(want) != have:
            raise ExportError(f"{path} has serving_default {what} {have}; expected {sorted(want)}")
    return loaded


class SavedModelRunner:
    """Calls serving_default with float inputs in the Keras part's input order; outputs in its output order."""

    def __init__(self, path, inputs, outputs):
        import tensorflow as tf

        self.tf = tf
        self.loaded = load_saved_model(path, inputs, outputs)
        self.fn = self.loaded.signatures["serving_default"]
        self.input_order, self.output_order = list(inputs), list(outputs)
        spec = self.fn.structured_input_signature[1][self.input_order[0]]
        self.batch = spec.shape[0] if spec.shape[0] else None

    def run_once(self, inputs):
        out = self.fn(**{n: self.tf.constant(x, self.tf.float32) for n, x in zip(self.input_order, inputs)})
        return [np.asarray(out[n]) for n in self.output_order]

    def __call__(self, inputs, batch_size=512):
        n = len(inputs[0])
        step = self.batch or batch_size
        chunks = []
        for i in range(0, n, step):
            part = [np.asarray(x[i:i + step], np.float32) for x in inputs]
            m = len(part[0])
            if self.batch and m < step:
                part = [np.concatenate([p, np.zeros((step - m, *p.shape[1:]), p.dtype)]) for p in part]
            chunks.append([o[:m] for o in self.run_once(part)])
        return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(self.output_order))]
