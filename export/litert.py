"""LiteRT (.tflite) conversion through Keras 3's own exporter, checks on a file before it is used, and a runner.

A file is used only after `load_litert` has checked it: a regular file read with a size bound, the TFL3
identifier, a flatbuffer that parses, builtin ops only (no Flex, no custom ops: a device cannot run those), the
signature inputs and outputs the caller expects, the sha256 recorded for it in an export.json beside it, and an
interpreter that builds and allocates. `LiteRTRunner` also holds the file to the tensors export.json records
(dtype, shape, scale and zero point) and checks what it is called with against the recorded input contract
(export/contract.py).
"""

import hashlib
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from export.examples import device_checks
from export.examples.device_checks import non_builtin, ops_of, runtime_log
from export.manifest import read_manifest
from export.names import IO, MANIFEST, QUANTIZE
from export.parts import ExportError, input_names, output_names
from zoo import io as zio

TFLITE_IDENTIFIER = b"TFL3"


# The device examples' checks (export/examples/device_checks.py: numpy and ai_edge_litert only, copied to devices
# as it is) are the exporter's too: the capture of the runtime's C++ log, the op list, bounded reads, the
# recorded details and ranges, rather than a second copy of each.
quiet_stderr = runtime_log


def check_options(quantize, io="float"):
    if quantize not in QUANTIZE:
        raise ExportError(f"unknown quantize {quantize!r}; expected one of {', '.join(QUANTIZE)}")
    if io not in IO:
        raise ExportError(f"unknown io {io!r}; expected one of {', '.join(IO)}")
    if io == "int8" and quantize != "int8":
        raise ExportError(f"--io int8 needs --quantize int8 (got --quantize {quantize})")


def converter_kwargs(quantize, io="float", representative=None):
    """Attributes Keras's LiteRT exporter sets on the TFLiteConverter.

    Keras defaults supported_ops to TFLITE_BUILTINS + SELECT_TF_OPS (Flex); we always override it, so a graph
    that would need Flex fails to convert instead of producing a file a device cannot run.
    """
    import tensorflow as tf

    check_options(quantize, io)
    kw = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "float16":
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
        kw["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "dynamic":
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        if not representative:
            raise ExportError("int8 quantization needs a representative dataset")
        # Dicts keyed by input name: with several inputs a plain list would be matched to the converter's
        # (alphabetical) signature order, not the Keras input order.
        batches = list(representative)
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
        kw["representative_dataset"] = lambda: iter(batches)
        kw["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io == "int8":
            kw["inference_input_type"] = tf.int8
            kw["inference_output_type"] = tf.int8
    return kw


def input_signature(part_model, batch):
    """Keras's input_signature for a part with every input's batch dimension fixed to `batch`."""
    import tensorflow as tf

    specs = [tf.TensorSpec([batch, *t.shape[1:]], tf.float32, name=t.name) for t in part_model.inputs]
    # A functional model with several inputs takes them as one list argument.
    return [specs] if len(specs) > 1 else specs


def convert(part_model, path, quantize="none", io="float", representative=None, batch=None):
    """Write part_model to `path` (.tflite) with Keras's `model.export(format="litert")`, then check the file
    (builtin ops, the part's input and output names) before it replaces anything."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = converter_kwargs(quantize, io, representative)
    if batch:
        kw["input_signature"] = input_signature(part_model, batch)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.lstrip('.')}.tmp-", suffix=".tflite", dir=path.parent)
    os.close(fd)
    try:
        with quiet_stderr() as err:
            try:
                with warnings.catch_warnings():
                    # int8 calibration runs tf.lite.Interpreter inside the converter; not ours to migrate
                    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
                    part_model.export(tmp, format="litert", verbose=False, **kw)
                exc = None
            except Exception as e:  # the converter's own message, one line
                exc = e
        if exc is not None:
            tail = [ln for ln in err["text"].splitlines() if "error" in ln.lower()][-1:] or [""]
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"LiteRT conversion of {part_model.name} ({quantize}) failed: {msg} {tail[0]}".strip())
        load_litert(tmp, inputs=input_names(part_model), outputs=output_names(part_model), verify_manifest=False)
        zio.write_bytes_atomic(path, Path(tmp).read_bytes())
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# -- reading back ----------------------------------------------------------------------------------------------
def manifest_entry(path):
    """The export.json record for `path` beside it, or None when there is no manifest or no record. A manifest
    that exists but cannot be read is refused, not ignored: it is what vouches for the file."""
    manifest = read_manifest(Path(path).parent / MANIFEST)
    return None if manifest is None else manifest["artifacts"].get(Path(path).name)


def load_litert(path, inputs=None, outputs=None, num_threads=1, verify_manifest=True):
    """An allocated ai_edge_litert Interpreter for `path`, after the checks in the module docstring; otherwise
    ExportError naming the file. inputs / outputs: the signature names expected (any order); by default the
    ones export.json records for the file, when it does."""
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    try:   # a regular file, read with a bound
        data = device_checks.read_bounded(path, device_checks.MAX_FILE_BYTES)
    except device_checks.Refused as e:
        raise ExportError(f"{path}: {e}") from None
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ExportError(f"{path} is not a LiteRT model: the 'TFL3' identifier is missing at bytes 4:8 "
                          "(corrupt, truncated or another format)")
    try:
        ops = ops_of(data)  # walks the flatbuffer tables: a truncated file fails here
    except Exception as e:
        raise ExportError(f"{path} is corrupt or truncated: its flatbuffer cannot be read "
                          f"({type(e).__name__}: {e})") from None
    bad = non_builtin(ops)
    if bad:
        raise ExportError(f"{path} uses ops a device's LiteRT runtime lacks: {', '.join(bad)} (builtin ops only)")
    if verify_manifest:
        entry = manifest_entry(path)
        if entry is not None:
            if entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ExportError(f"{path} is corrupt or was replaced: its sha256 does not match the one recorded "
                                  f"in {path.parent / MANIFEST}")
            inputs = inputs if inputs is not None else [t["name"] for t in entry.get("inputs", [])] or None
            outputs = outputs if outputs is not None else [t["name"] for t in entry.get("outputs", [])] or None
    try:
        interp = Interpreter(model_content=data, num_threads=num_threads)
        interp.allocate_tensors()
        sigs = interp.get_signature_list()
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ExportError(f"{path} is corrupt or truncated: the LiteRT interpreter refused it ({first})") from None
    if len(sigs) != 1:
        raise ExportError(f"{path} has {len(sigs)} signatures ({', '.join(sigs) or 'none'}); expected one "
                          "(re-export it with python -m export)")
    sig = next(iter(sigs.values()))
    for what, want, have in (("inputs", inputs, sig["inputs"]), ("outputs", outputs, sig["outputs"])):
        if want is not None and sorted(want) != sorted(have):
            raise ExportError(f"{path} has signature {what} {sorted(have)}; expected {sorted(want)}")
    return interp


class LiteRTRunner:
    """Runs a checked .tflite through its signature: float inputs in `inputs` order (the Keras part's), outputs
    returned in `outputs` order (the Keras part's, not the signature's alphabetical one). int8 inputs are
    quantized with the file's scale and zero point and int8 outputs dequantized; a fixed batch dimension is
    fed in chunks of that size (the last one padded)."""

    def __init__(self, path, inputs=None, outputs=None, num_threads=1, verify_manifest=True):
        self.path = Path(path)
        entry = (manifest_entry(self.path) or {}) if verify_manifest else {}
        if verify_manifest and (inputs is None or outputs is None):
            inputs = inputs or [t["name"] for t in entry.get("inputs", [])] or None
            outputs = outputs or [t["name"] for t in entry.get("outputs", [])] or None
        self.interpreter = load_litert(self.path, inputs, outputs, num_threads, verify_manifest)
        self.runner = self.interpreter.get_signature_runner()
        self.in_details = self.runner.get_input_details()
        self.out_details = self.runner.get_output_details()
        try:   # the tensors export.json records for the file (dtype, shape, scale and zero point)
            device_checks.check_details(self.in_details, entry.get("inputs"), "inputs", None)
            device_checks.check_details(self.out_details, entry.get("outputs"), "outputs", None)
        except device_checks.Refused as e:
            raise ExportError(f"{self.path}: {e}") from None
        # What export.json says each input takes ("input"); __call__ checks the values it is given against it.
        self.contract = {c["name"]: c for c in entry.get("input") or [] if isinstance(c, dict) and "name" in c}
        self.input_order = list(inputs) if inputs else list(self.in_details)
        self.output_order = list(outputs) if outputs else list(self.out_details)
        batches = {int(d["shape_signature"][0]) for d in self.in_details.values()}
        self.batch = next(iter(batches)) if len(batches) == 1 and min(batches) > 0 else None

    def io_details(self):
        def one(name, d):
            scale, zp = d["quantization"]
            item = {"name": name, "dtype": np.dtype(d["dtype"]).name,
                    "shape": [int(s) for s in d["shape_signature"]]}
            if np.dtype(d["dtype"]) in (np.int8, np.uint8, np.int16):
                item["scale"], item["zero_point"] = float(scale), int(zp)
            return item

        return {"inputs": [one(n, self.in_details[n]) for n in self.input_order],
                "outputs": [one(n, self.out_details[n]) for n in self.output_order]}

    def _quantize(self, name, x):
        d = self.in_details[name]
        dtype = np.dtype(d["dtype"])
        scale, zp = d["quantization"]
        if dtype == np.float32 or not scale:
            # float inputs, and integer inputs that carry no quantization (word ids), go in as they are
            return np.asarray(x, dtype)
        info = np.iinfo(dtype)
        return np.clip(np.round(np.asarray(x, np.float32) / scale) + zp, info.min, info.max).astype(dtype)

    def _dequantize(self, name, y):
        d = self.out_details[name]
        scale, zp = d["quantization"]
        if np.dtype(d["dtype"]) == np.float32 or not scale:
            return np.asarray(y, np.float32)
        return ((np.asarray(y, np.float32) - zp) * scale).astype(np.float32)

    def run_once(self, inputs):
        """One call on a batch the file accepts as it is."""
        feed = {n: self._quantize(n, x) for n, x in zip(self.input_order, inputs)}
        out = self.runner(**feed)
        return [self._dequantize(n, out[n]) for n in self.output_order]

    def check_inputs(self, inputs):
        """Each input against its recorded range (a file exported before "input" was recorded has none): raw
        0..255 pixels where [0, 1] is expected are refused in one line, not quantized into nonsense."""
        for name, x in zip(self.input_order, inputs):
            if name in self.contract:
                try:
                    device_checks.check_values(name, x, self.contract[name])
                except device_checks.Refused as e:
                    raise ExportError(f"{self.path.name}: {e}") from None

    def __call__(self, inputs, batch_size=256):
        """Outputs for a batch of any size, after check_inputs (run_once is the file's own call, unchecked)."""
        self.check_inputs(inputs)
        n = len(inputs[0])
        step = self.batch or batch_size
        chunks = []
        for i in range(0, n, step):
            part = [np.asarray(x[i:i + step]) for x in inputs]
            m = len(part[0])
            if self.batch and m < step:
                part = [np.concatenate([p, np.zeros((step - m, *p.shape[1:]), p.dtype)]) for p in part]
            chunks.append([o[:m] for o in self.run_once(part)])
        return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(self.output_order))]


def latency_ms(fn, repeats=200, warmup=10, budget_s=2.0):
    """Median wall time of fn() in milliseconds (stops early after budget_s)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget_s:
            break
    return round(float(np.median(times)) * 1e3, 4)
