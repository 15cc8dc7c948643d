"""LiteRT (.tflite) conversion through Keras 3's own exporter, flatbuffer validation, op listing and a
runner that quantizes and dequantizes int8 inputs and outputs."""

import contextlib
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from export.parts import ExportError

from export.names import IO, QUANTIZE
TFLITE_IDENTIFIER = b"TFL3"


def file_stem(part, quantize, io="float"):
    q = "float32" if quantize == "none" else quantize
    return f"{part}_{q}" + ("_int8io" if io == "int8" else "")


@contextlib.contextmanager
def quiet_stderr():
    """The converter's C++ side prints to fd 2 on success; keep it out of a clean CLI run, and hand its
    last line to the caller if the conversion fails."""
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        captured = {"text": ""}
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured["text"] = tmp.read().decode("utf-8", "replace")


def converter_kwargs(quantize, io="float", representative=None):
    """Attributes Keras's LiteRTExporter sets on the TFLiteConverter.

    Keras defaults supported_ops to TFLITE_BUILTINS + SELECT_TF_OPS (Flex); we always override it so a
    graph that would need Flex fails to convert instead of producing a file a device cannot run.
    """
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise ExportError(f"unknown quantize {quantize!r}; expected one of {', '.join(QUANTIZE)}")
    if io not in IO:
        raise ExportError(f"unknown io {io!r}; expected one of {', '.join(IO)}")
    if io == "int8" and quantize != "int8":
        raise ExportError(f"--io int8 needs --quantize int8 (got --quantize {quantize})")
    kw = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "float16":
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
        kw["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "dynamic":
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        if representative is None:
            raise ExportError("int8 quantization needs a representative dataset")
        # Dicts keyed by input name: with a multi-input signature a plain list would be matched to the
        # converter's (alphabetical) signature order, not the Keras input order.
        batches = list(representative)
        kw["optimizations"] = [tf.lite.Optimize.DEFAULT]
        kw["representative_dataset"] = lambda: iter(batches)
        kw["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io == "int8":
            kw["inference_input_type"] = tf.int8
            kw["inference_output_type"] = tf.int8
    return kw


def convert(part_model, path, quantize="none", io="float", representative=None):
    """Write part_model to `path` (.tflite) atomically with Keras's `model.export(format="litert")`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = converter_kwargs(quantize, io, representative)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=".tflite", dir=path.parent)
    os.close(fd)
    try:
        with quiet_stderr() as err:
            try:
                with warnings.catch_warnings():
                    # int8 calibration runs tf.lite.Interpreter inside the converter; not ours to migrate
                    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
                    part_model.export(tmp, format="litert", verbose=False, **kw)
                ok = True
            except Exception as e:  # the converter's own message, one line
                ok, exc = False, e
        if not ok:
            tail = [ln for ln in err["text"].splitlines() if "error" in ln.lower()][-1:] or [""]
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"LiteRT conversion of {part_model.name} ({quantize}) failed: {msg} {tail[0]}".strip())
        load_litert(tmp, verify_manifest=False)  # refuse to publish a file we cannot read back
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; published files are world-readable
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- reading back ------------------------------------------------------------------------------------------
def load_litert(path, num_threads=1, verify_manifest=True):
    """An allocated ai_edge_litert Interpreter for `path`, or ExportError naming the file when it is missing,
    not a LiteRT flatbuffer, corrupt or truncated. With verify_manifest, a file listed in an export.json
    beside it must also match the sha256 recorded there (catches corrupted weights, which the flatbuffer
    structure alone cannot)."""
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path} does not exist")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ExportError(f"{path} is not a LiteRT model: the 'TFL3' identifier is missing at bytes 4:8 "
                          f"(corrupt, truncated or another format)")
    try:
        ops_of(data)  # walks the flatbuffer tables: a truncated file fails here with an IndexError/struct error
    except Exception as e:
        raise ExportError(f"{path} is corrupt or truncated: its flatbuffer cannot be read "
                          f"({type(e).__name__}: {e})") from None
    if verify_manifest:
        _verify_manifest(path, data)
    try:
        interp = Interpreter(model_content=data, num_threads=num_threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{path} is corrupt or truncated: the LiteRT interpreter refused it ({first})") from None
    return interp


def _verify_manifest(path, data):
    import hashlib
    import json

    manifest = path.parent / "export.json"
    if not manifest.is_file():
        return
    try:
        entry = json.loads(manifest.read_text()).get("artifacts", {}).get(path.name)
    except (ValueError, AttributeError):
        return
    want = (entry or {}).get("sha256")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise ExportError(f"{path} is corrupt: its sha256 does not match the one recorded in {manifest}")


def ops_of(data):
    """{op name: count} over every subgraph; custom ops (Flex included) as 'CUSTOM:<name>'."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(data, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == schema.BuiltinOperator.CUSTOM:
            custom = oc.CustomCode()
            codes.append("CUSTOM:" + (custom.decode() if custom else "?"))
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))
    counts = {}
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for j in range(sg.OperatorsLength()):
            name = codes[sg.Operators(j).OpcodeIndex()]
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def non_builtin(ops):
    return sorted(op for op in ops if op.startswith("CUSTOM:") or op.startswith("Flex"))


class LiteRTRunner:
    """Runs a .tflite through its signature with float inputs in the Keras part's input order; int8
    inputs are quantized with the file's scale and zero point, int8 outputs dequantized."""

    def __init__(self, path, input_order=None, num_threads=1, verify_manifest=True):
        self.path = Path(path)
        self.interpreter = load_litert(self.path, num_threads=num_threads, verify_manifest=verify_manifest)
        sigs = self.interpreter.get_signature_list()
        if not sigs:
            raise ExportError(f"{self.path} has no signature; re-export it with python -m export")
        self.key = "serving_default" if "serving_default" in sigs else next(iter(sigs))
        self.runner = self.interpreter.get_signature_runner(self.key)
        self.in_details = self.runner.get_input_details()
        self.out_details = self.runner.get_output_details()
        names = list(self.in_details)
        if input_order is not None:
            missing = [n for n in input_order if n not in self.in_details]
            if missing:
                raise ExportError(f"{self.path} has inputs {names}, the Keras part has {list(input_order)}")
            names = list(input_order)
        self.input_order = names
        self.output_order = sorted(self.out_details, key=lambda n: (len(n), n))

    def io_details(self):
        def one(name, d):
            scale, zp = d["quantization"]
            item = {"name": name, "dtype": np.dtype(d["dtype"]).name,
                    "shape": [int(s) for s in d.get("shape_signature", d["shape"])]}
            if np.dtype(d["dtype"]) in (np.int8, np.uint8, np.int16):
                item["scale"], item["zero_point"] = float(scale), int(zp)
            return item

        return {"inputs": [one(n, self.in_details[n]) for n in self.input_order],
                "outputs": [one(n, self.out_details[n]) for n in self.output_order]}

    def _quantize(self, name, x):
        d = self.in_details[name]
        dtype = np.dtype(d["dtype"])
        if dtype == np.float32:
            return np.asarray(x, np.float32)
        scale, zp = d["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(np.asarray(x, np.float32) / scale) + zp, info.min, info.max).astype(dtype)

    def _dequantize(self, name, y):
        d = self.out_details[name]
        if np.dtype(d["dtype"]) == np.float32:
            return np.asarray(y, np.float32)
        scale, zp = d["quantization"]
        return ((np.asarray(y, np.float32) - zp) * scale).astype(np.float32)

    def run_once(self, inputs):
        feed = {n: self._quantize(n, x) for n, x in zip(self.input_order, inputs)}
        out = self.runner(**feed)
        return [self._dequantize(n, out[n]) for n in self.output_order]

    def __call__(self, inputs, batch_size=256):
        n = len(inputs[0])
        chunks = [self.run_once([x[i:i + batch_size] for x in inputs]) for i in range(0, n, batch_size)]
        return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(chunks[0]))]


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
