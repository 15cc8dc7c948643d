"""The checks the device examples share (run_decoder.py, run_generator.py, play_cartpole.py). Like them it needs
only numpy, ai_edge_litert and the standard library; copy it to the device beside them.

Before a .tflite file is used (`load`):
- it is a regular file of at most MAX_FILE_BYTES, read with that bound (a device file such as /dev/zero never is);
- it has the 'TFL3' identifier, its flatbuffer parses and it uses builtin ops only (a custom op is named here,
  not met as an "unresolved custom op" at run time);
- when the exporter's export.json sits beside it (as it ships), the file has the sha256 recorded there, and the
  interpreter's input and output details are the ones recorded (count, names, dtype, shape, scale and zero
  point);
- every quantized tensor (int8, uint8, int16) has a finite scale > 0, and the inputs and outputs have the dtypes
  the example can feed and read;
- the bytes every tensor of the graph needs are bounded before the interpreter allocates them.

Before a run (`feed`, `run`): each input is checked against its recorded range (the "input" contract export.json
records per file: images [0, 1], so raw 0..255 pixels are refused in one line, not silently misread), its
allocation at the batch size fed is bounded, and then it is quantized with the file's own scale and zero point.

The examples' exit status: 0 done; 1 refused (`Refused`: the file, its export.json or the arguments fail a
check); 2 the run failed on a file that passed the checks (`RunFailed`: the interpreter raised while running,
memory ran out, anything unforeseen). Either way one line on stderr; the traceback only with --debug.
"""

import contextlib
import hashlib
import json
import os
import stat
import sys
import tempfile

import numpy as np

MAX_FILE_BYTES = 512 << 20
MAX_MANIFEST_BYTES = 16 << 20
# Every tensor of the graph at the batch size fed, plus what the example draws for it: far above what the
# shipped parts need at the examples' largest batch (a decoder at 1,024 samples: under 10 MB).
MAX_RUN_BYTES = 256 << 20
MANIFEST = "export.json"
QUANTIZED = ("int8", "uint8", "int16")
EXIT_REFUSED, EXIT_FAILED = 1, 2


class Refused(Exception):
    """The model file (or its export.json, or what it is asked to do) cannot be used; the message says why."""


class RunFailed(Exception):
    """A file that passed the checks failed while running; the message says how."""


def first_line(e):
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


@contextlib.contextmanager
def runtime_log():
    """The LiteRT runtime writes notes and errors straight to fd 2 from C++ ("INFO: Created TensorFlow Lite
    XNNPACK delegate", "ERROR: ..."); collect them, so stderr carries at most our one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        log = {"text": ""}
        try:
            yield log
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            log["text"] = tmp.read().decode("utf-8", "replace")


def exit_status(e, debug, model, prefix="error: "):
    """What an example's main returns for an exception out of its work on the file `model`, after one line on
    stderr: 1 for Refused, 2 for anything else. With debug the exception goes on up, traceback and all."""
    if debug:
        raise e
    if isinstance(e, Refused):
        print(f"{prefix}cannot use {model}: {e}", file=sys.stderr)
        return EXIT_REFUSED
    if isinstance(e, MemoryError):
        text = "running it failed: out of memory (MemoryError)"
    elif isinstance(e, RunFailed):
        text = str(e)
    else:
        text = f"running it failed: {type(e).__name__}: {first_line(e)}"
    print(f"{prefix}{model}: {text}", file=sys.stderr)
    return EXIT_FAILED


# -- the file ---------------------------------------------------------------------------------------------------
def read_bounded(path, max_bytes, what="it"):
    """The bytes of a regular file of at most max_bytes; Refused otherwise (nothing larger is read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise Refused(f"cannot read {what}: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{what} is not a regular file")
        if info.st_size > max_bytes:
            raise Refused(f"{what} is {info.st_size:,} bytes, more than the {max_bytes >> 20} MB this example reads")
        with os.fdopen(os.dup(fd), "rb") as f:
            content = f.read(max_bytes + 1)
    except OSError as e:
        raise Refused(f"cannot read {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(content) > max_bytes:
        raise Refused(f"{what} grew past the {max_bytes >> 20} MB this example reads")
    return content


def record_of(path):
    """The export.json record for `path` beside it, or None when there is no export.json or it records no such
    file. An export.json that exists but cannot be read is refused: it is what vouches for the file."""
    manifest = os.path.join(os.path.dirname(os.path.abspath(path)), MANIFEST)
    if not os.path.exists(manifest):
        return None
    what = f"the export.json beside it ({manifest})"
    try:
        record = json.loads(read_bounded(manifest, MAX_MANIFEST_BYTES, what).decode("utf-8"))
        entry = record["artifacts"].get(os.path.basename(path))
    except Refused:
        raise
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError, RecursionError):
        raise Refused(f"{what} is unreadable or corrupt") from None
    if entry is not None and not isinstance(entry, dict):
        raise Refused(f"{what} is corrupt: its record of {os.path.basename(path)} is not a table")
    return entry


def ops_of(content):
    """{op name: count} over every subgraph of a .tflite's bytes; custom ops (Flex included) as 'CUSTOM:<name>'.
    Raises on a flatbuffer that cannot be read."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(content, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == schema.BuiltinOperator.CUSTOM:
            custom = oc.CustomCode()
            codes.append("CUSTOM:" + (custom.decode("utf-8", "replace") if custom else "?"))
        else:
            codes.append(names.get(code, f"UNKNOWN_{code}"))
    counts = {}
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for j in range(sg.OperatorsLength()):
            name = codes[sg.Operators(j).OpcodeIndex()]
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def non_builtin(ops):
    return sorted(op for op in ops if op.startswith(("CUSTOM:", "Flex", "UNKNOWN_")))


def check_content(content, record):
    """The identifier, the recorded sha256 (when there is a record) and a flatbuffer of builtin ops only."""
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise Refused("it is not a LiteRT model (the 'TFL3' identifier is missing: another format, or corrupt)")
    want = record.get("sha256") if record else None
    if want and hashlib.sha256(content).hexdigest() != want:
        raise Refused("it is corrupt: its sha256 differs from the one recorded in the export.json beside it")
    try:
        ops = ops_of(content)
    except Exception as e:
        raise Refused(f"it is corrupt or truncated: its flatbuffer cannot be read ({first_line(e)})") from None
    bad = non_builtin(ops)
    if bad:
        raise Refused(f"it uses ops a device's LiteRT runtime lacks: {', '.join(bad)} (builtin ops only)")


# -- the interpreter's details against the record -----------------------------------------------------------------
def shape_of(detail):
    sig = detail.get("shape_signature")
    shape = sig if sig is not None and len(sig) else detail["shape"]
    return [int(s) for s in shape]


def check_details(details, recorded, what, dtypes=None):
    """details: {name: detail} of the signature's inputs or outputs; recorded: export.json's list for them (None
    without a record); dtypes: the dtype names the example can feed or read (None: any)."""
    if recorded is not None:
        names = sorted(str(r.get("name")) for r in recorded if isinstance(r, dict))
        if names != sorted(details) or len(names) != len(recorded):
            raise Refused(f"its {what} {sorted(details)} are not the {names} its export.json records")
        for r in recorded:
            d = details[r["name"]]
            dtype, shape = np.dtype(d["dtype"]).name, shape_of(d)
            if "dtype" in r and dtype != r["dtype"]:
                raise Refused(f"{r['name']!r} is {dtype}; its export.json records {r['dtype']}")
            if "shape" in r and shape != r["shape"]:
                raise Refused(f"{r['name']!r} has shape {shape}; its export.json records {r['shape']}")
            if "scale" in r:
                scale, zero = d["quantization"]
                if not (np.isclose(scale, r["scale"], rtol=1e-6, atol=0) and int(zero) == r.get("zero_point")):
                    raise Refused(f"{r['name']!r} is quantized with scale {scale:g} and zero point {zero}; its "
                                  f"export.json records {r['scale']:g} and {r.get('zero_point')}")
    for name, d in details.items():
        dtype = np.dtype(d["dtype"]).name
        if dtypes is not None:   # an example's own limits: the dtypes it feeds and reads, batched tensors
            if dtype not in dtypes:
                raise Refused(f"{name!r} is {dtype}; this example takes {' or '.join(dtypes)}")
            shape = shape_of(d)
            if not shape or any(s < 1 for s in shape[1:]) or shape[0] == 0 or shape[0] < -1:
                raise Refused(f"{name!r} has shape {shape}; expected (N, ...) with positive sizes")
        if dtype in QUANTIZED:
            scale = float(d["quantization"][0])
            if not (np.isfinite(scale) and scale > 0):
                raise Refused(f"{name!r} is {dtype} with quantization scale {scale:g}; a quantized tensor needs a "
                              "finite scale > 0 (the file is corrupt)")


def tensor_bytes(interpreter, batch):
    """The bytes every tensor of the graph takes at `batch` (a -1 batch dimension set to it)."""
    total = 0
    for d in interpreter.get_tensor_details():
        shape = shape_of(d)
        n = 1
        for s in shape:
            n *= batch if s == -1 else max(int(s), 0)
        total += n * np.dtype(d["dtype"]).itemsize
    return total


def check_run_bytes(interpreter, batch, extra=0):
    try:
        need = tensor_bytes(interpreter, batch) + int(extra)
    except Exception as e:
        raise Refused(f"it is corrupt: its tensors cannot be read ({first_line(e)})") from None
    if need > MAX_RUN_BYTES:
        raise Refused(f"running it on {batch} at once needs {need / 2 ** 20:,.0f} MB of tensors, more than the "
                      f"{MAX_RUN_BYTES >> 20} MB this example allows")


class Model:
    """A checked, allocated .tflite: its signature runner, input and output details ({name: detail}), the
    export.json record (or None) and the input contract by name (recorded, else the example's defaults)."""

    def __init__(self, interpreter, runner, inputs, outputs, record, contract):
        self.interpreter, self.runner = interpreter, runner
        self.inputs, self.outputs, self.record, self.contract = inputs, outputs, record, contract
        batches = {shape_of(d)[0] for d in list(inputs.values()) + list(outputs.values())}
        if len(batches) != 1:
            raise Refused(f"its inputs and outputs disagree on the batch size ({sorted(batches)}); the file is "
                          "corrupt")
        self.fixed_batch = max(batches.pop(), 0)   # 0: any batch size
        self._checked = set()

    def check_batch(self, batch, extra=0):
        """Bound what running `batch` samples at once allocates (check_run_bytes), once per batch size."""
        if extra or batch not in self._checked:
            check_run_bytes(self.interpreter, batch, extra)
            self._checked.add(batch)


def load(path, dtypes=("float32", "int8"), defaults=None, max_bytes=MAX_FILE_BYTES):
    """A checked, allocated Model for the file at `path` (the checks in the module docstring), or Refused.

    dtypes: what the example can feed and read; defaults: {input name: contract} used where export.json records
    no "input" contract (older exports)."""
    from ai_edge_litert.interpreter import Interpreter

    content = read_bounded(path, max_bytes)
    record = record_of(path)
    check_content(content, record)
    try:
        interpreter = Interpreter(model_content=content, num_threads=1)
        signatures = interpreter.get_signature_list()
        if len(signatures) != 1:
            raise Refused(f"it has {len(signatures)} signatures; an exported part has one")
        runner = interpreter.get_signature_runner()
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
    except Refused:
        raise
    except Exception as e:
        raise Refused(f"it is corrupt or truncated: the LiteRT interpreter refused it ({first_line(e)})") from None
    check_details(inputs, record.get("inputs") if record else None, "inputs", dtypes)
    check_details(outputs, record.get("outputs") if record else None, "outputs", dtypes)
    contract = dict(defaults or {})
    recorded = record.get("input") if record else None
    if isinstance(recorded, list):
        contract.update({c["name"]: c for c in recorded if isinstance(c, dict) and "name" in c})
    check_run_bytes(interpreter, 1)
    # The runner holds views of the interpreter's tensors, which allocate_tensors refuses to move: details first,
    # then allocation (where a corrupt graph fails to prepare), then the runner that is used.
    del runner
    try:
        interpreter.allocate_tensors()
        runner = interpreter.get_signature_runner()
    except Exception as e:
        raise Refused(f"it is corrupt or truncated: the LiteRT interpreter refused it ({first_line(e)})") from None
    return Model(interpreter, runner, inputs, outputs, record, contract)


# -- inputs and runs -------------------------------------------------------------------------------------------
def check_values(name, x, spec):
    """x against one input's contract: finite, inside its "range" ([lo, hi], None for an open end), whole numbers
    for ids. One line says what was wrong and what is expected (and how to get there from raw data)."""
    x = np.asarray(x)
    if x.size == 0:
        return
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise Refused(f"input {name!r} holds NaN or infinite values; expected finite numbers")
    if not spec:
        return
    lo, hi = (list(spec.get("range") or [None, None]) + [None, None])[:2]
    low, high = float(np.min(x)), float(np.max(x))
    if (lo is not None and low < lo) or (hi is not None and high > hi):
        bounds = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
        raw = f" ({spec['from_raw']})" if spec.get("from_raw") else ""
        hint = " (raw 0..255 pixels? divide by 255)" if hi == 1 and high > 1 and high <= 255 else ""
        raise Refused(f"input {name!r} expects values in {bounds}{raw}; got values in [{low:g}, {high:g}]{hint}")
    if spec.get("kind") == "ids" and x.dtype.kind == "f" and not np.all(x == np.round(x)):
        raise Refused(f"input {name!r} takes whole-number ids; got fractions")


def quantize(x, detail):
    """x as the tensor takes it: float32, or int8 with the file's scale and zero point (clipped)."""
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.asarray(x, np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x, np.float32) / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(y, detail):
    if np.dtype(detail["dtype"]) == np.float32:
        return np.asarray(y, np.float32)
    scale, zero_point = detail["quantization"]
    return (np.asarray(y, np.float32) - zero_point) * scale


def feed(model, name, x):
    """One input checked against its contract and quantized for the file."""
    check_values(name, x, model.contract.get(name))
    return quantize(x, model.inputs[name])


def check_draw(model, n, widths, itemsize=8):
    """Bound what an example is about to draw for n samples (widths: values per sample of each input) and what
    the interpreter will allocate to run them, before either is allocated."""
    model.check_batch(model.fixed_batch or n, extra=n * sum(int(w) for w in widths) * itemsize)


def run(model, inputs):
    """The dequantized outputs ({name: float32 array}) of one call; RunFailed when the interpreter raises, or an
    output comes back with another shape than the batch fed implies."""
    batch = len(next(iter(inputs.values())))
    model.check_batch(batch)
    try:
        result = model.runner(**inputs)
    except MemoryError:
        raise RunFailed("running it failed: out of memory (MemoryError)") from None
    except Exception as e:
        raise RunFailed(f"running it failed ({first_line(e)})") from None
    out = {}
    for name, detail in model.outputs.items():
        if name not in result:
            raise RunFailed(f"running it failed: no output {name!r} came back")
        value = np.asarray(result[name])
        want = [batch, *shape_of(detail)[1:]]
        if list(value.shape) != want:
            raise RunFailed(f"running it failed: {name!r} came out with shape {list(value.shape)}, expected {want}")
        out[name] = dequantize(value, detail)
    return out


def run_in_batches(model, feed, output):
    """Output `output` of `run` over every row of `feed`, in chunks of the file's fixed batch size when it has
    one (the last chunk padded with copies of its last row, the padding dropped again)."""
    n = len(next(iter(feed.values())))
    step = model.fixed_batch or n
    chunks = []
    for i in range(0, n, step):
        part = {k: v[i:i + step] for k, v in feed.items()}
        m = len(next(iter(part.values())))
        if m < step:
            part = {k: np.concatenate([v, np.repeat(v[-1:], step - m, axis=0)]) for k, v in part.items()}
        chunks.append(run(model, part)[output][:m])
    return np.concatenate(chunks)
