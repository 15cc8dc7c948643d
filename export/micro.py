"""TensorFlow Lite Micro (TFLM) for int8 LiteRT files: C source and header, arena size, parity with LiteRT.

`python -m export NAME --part P --quantize int8 --target micro` writes, beside `P_int8[...].tflite`:

- `P_int8[...]_model_data.cc` / `.h`: the file's bytes as `alignas(16) const unsigned char g_ID_model_data[]`
  and `const unsigned int g_ID_model_data_len` (ID: the model name and the file's stem), plus the arena size as
  `ID_TENSOR_ARENA_BYTES` in the header; a comment names the model, part, sha256 and arena size.
- in export.json, under the file's record, "micro": the arena bytes, the op list, whether the part is fully
  integer (int8 input and output tensors), and the comparison with LiteRT's reference kernels.

Arena: the smallest `arena_size` (in 16-byte steps) with which the `tflite-micro` package's Python interpreter
(the TFLM kernels on the host, with its RecordingMicroAllocator) allocates the graph and invokes it, found by
bisection. A too-small arena does not raise: TFLM's allocator fails and the interpreter then crashes the process
(SIGSEGV), so every probe runs in a forked child of a helper process that imports only numpy and tflite_micro
(this file run as a script). The arena the interpreter itself records (PrintAllocations' "Arena allocation
total") is smaller than the smallest that works, so it is not used.

Parity: the file runs sample by sample under TFLM and under LiteRT's reference kernels
(OpResolverType.BUILTIN_REF, the kernels TFLM's are ported from) on the same inputs (the part's own
representative inputs, ExportPart.inputs(n, seed=0)), and the outputs are compared in quantized steps: int8
outputs directly, float outputs in steps of the scale of the int8 tensor their DEQUANTIZE reads.

The tflite_micro import is lazy (only here, only when a micro export or the bench asks for it).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ALIGN = 16
MAX_ARENA_BYTES = 256 << 20
PARITY_SIZE = 64      # representative inputs run under both interpreters
MAX_STEPS = 1         # the goal is bit-exact; more than one quantized step anywhere fails the check
PROBE_TIMEOUT_S = 600
BYTES_PER_LINE = 12


class MicroError(Exception):
    """Raised by the helper-free parts; export/api turns it into ExportError."""


def _error(msg):
    try:   # ExportError when the exporter is importable (it is a ZooError); plain MicroError in the helper
        from export.parts import ExportError
        return ExportError(msg)
    except ImportError:
        return MicroError(msg)


# -- C source and header ----------------------------------------------------------------------------------------
def c_identifier(text):
    ident = re.sub(r"[^0-9A-Za-z_]", "_", str(text))
    return ident if ident and not ident[0].isdigit() else "_" + ident


def c_array(data, ident, comment=(), arena_bytes=None, header_name=None):
    """(source, header) text: `data` as `alignas(16) const unsigned char g_IDENT_model_data[]` (TFLM reads the
    flatbuffer in place, and its tables need the alignment) and its length; the header declares both, the
    length also as a compile-time constant, and the arena size when given. C++ (TFLM is C++): the source includes
    the header, so the `const` definitions get external linkage from the `extern` declarations."""
    ident = c_identifier(ident)
    name, upper = f"g_{ident}_model_data", ident.upper()
    header_name = header_name or f"{ident}_model_data.h"
    lines = [f"// {c}" for c in comment]
    guard = f"ZOO_{upper}_MODEL_DATA_H_"
    header = "\n".join([
        *lines, f"#ifndef {guard}", f"#define {guard}", "",
        f"#define {upper}_MODEL_DATA_LEN {len(data)}u",
        *([f"#define {upper}_TENSOR_ARENA_BYTES {int(arena_bytes)}u"] if arena_bytes is not None else []),
        "",
        f"extern const unsigned char {name}[{upper}_MODEL_DATA_LEN];",
        f"extern const unsigned int {name}_len;", "", f"#endif  // {guard}", ""])
    rows = []
    for i in range(0, len(data), BYTES_PER_LINE):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + BYTES_PER_LINE]) + ",")
    source = "\n".join([
        *lines, f'#include "{header_name}"', "",
        f"alignas({ALIGN}) const unsigned char {name}[{upper}_MODEL_DATA_LEN] = {{", *rows, "};",
        f"const unsigned int {name}_len = {len(data)}u;", ""])
    return source, header


def parse_c_array(source):
    """The bytes of the one `{ 0x.., ... }` initializer in `source` (the inverse of c_array, for checks)."""
    body = source[source.index("{") + 1:source.rindex("}")]
    return bytes(int(t, 16) for t in re.findall(r"0x([0-9a-fA-F]{2})", body))


def write_c_files(data, folder, stem, ident, comment, arena_bytes, write=None):
    """Write STEM_model_data.cc and .h into `folder` (through `write(path, bytes)`, atomic by default)."""
    if write is None:
        from zoo import io as zio
        write = zio.write_bytes_atomic
    header_name = f"{stem}_model_data.h"
    source, header = c_array(data, ident, comment, arena_bytes, header_name)
    paths = [Path(folder) / f"{stem}_model_data.cc", Path(folder) / header_name]
    for path, text in zip(paths, (source, header)):
        write(path, text.encode())
    return paths


# -- the helper process: allocation probes under TFLM --------------------------------------------------------------
def _zeros_feed(interp, model):
    from tflite_micro.python.tflite_micro import runtime
    for i in range(len(runtime.convert_bytearray_to_object(model).subgraphs[0].inputs)):
        d = interp.get_input_details(i)
        interp.set_input(np.zeros(d["shape"], d["dtype"]), i)


def _try_arena(model, arena, log_path):
    """In a forked child: build, allocate and invoke with `arena` bytes. -> (ok, stderr text)."""
    pid = os.fork()
    if pid == 0:   # the child: TFLM's messages into log_path; a crash only ends this child
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 2)
            os.dup2(fd, 1)
            from tflite_micro.python.tflite_micro import runtime
            interp = runtime.Interpreter.from_bytes(model, arena_size=int(arena))
            _zeros_feed(interp, model)
            interp.invoke()
            os._exit(0)
        except BaseException as e:   # noqa: BLE001 - anything here is a failed probe, reported by its log
            try:
                os.write(2, f"\n{type(e).__name__}: {e}\n".encode())
            finally:
                os._exit(3)
    _, status = os.waitpid(pid, 0)
    text = Path(log_path).read_text(errors="replace") if Path(log_path).exists() else ""
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text


def _out_of_arena(text):
    return "Failed to allocate" in text or "arena" in text.lower() and "allocat" in text.lower()


def _probe(model_path, log_path):
    """The helper's work: the smallest arena that allocates and invokes, or the reason nothing does."""
    model = Path(model_path).read_bytes()
    from tflite_micro.python.tflite_micro import runtime  # noqa: F401 - imported once, before the forks
    hi = max(1 << 16, 2 * len(model))
    while True:
        ok, text = _try_arena(model, hi, log_path)
        if ok:
            break
        if not _out_of_arena(text) or hi >= MAX_ARENA_BYTES:
            return {"ok": False, "log": text[-4000:]}
        hi = min(hi * 2, MAX_ARENA_BYTES)
    lo = 0   # in units of ALIGN; lo fails (or is zero), hi works
    lo_u, hi_u = lo, -(-hi // ALIGN)
    while hi_u - lo_u > 1:
        mid = (lo_u + hi_u) // 2
        if _try_arena(model, mid * ALIGN, log_path)[0]:
            hi_u = mid
        else:
            lo_u = mid
    return {"ok": True, "arena_bytes": hi_u * ALIGN}


def unsupported_op(log):
    """The op TFLM named in its log when it could not run a graph, or None."""
    for pattern in (r"Node (\w+) \(number \d+\) failed to (?:invoke|prepare)",
                    r"Didn't find op for builtin opcode '(\w+)'", r"Failed to get registration from op code (\w+)"):
        m = re.search(pattern, log)
        if m:
            return m.group(1)
    return None


def _reason(log):
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and not ln.startswith(("Traceback", "  "))
             and not ln.startswith(("Input index", "[RecordingMicroAllocator]"))]
    return lines[0][:200] if lines else "no message"


def measure_arena(data, what="the model"):
    """The smallest TFLM arena (bytes, a multiple of 16) that allocates and invokes `data` (.tflite bytes); one
    helper process. ExportError naming the op when TFLM cannot run the graph."""
    with tempfile.TemporaryDirectory(prefix="zoo-micro-") as tmp:
        model_path = Path(tmp) / "model.tflite"
        model_path.write_bytes(data)
        # -I: the helper imports numpy and tflite_micro only, not the export package beside this file
        proc = subprocess.run([sys.executable, "-I", str(Path(__file__).resolve()), "probe", str(model_path),
                               str(Path(tmp) / "probe.log")], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, check=False)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        if "No module named" in tail and "tflite_micro" in tail:
            raise _error("--target micro needs the tflite-micro package (pip install tflite-micro)") from None
        raise _error(f"the TFLite Micro probe of {what} failed: {tail[:200]}") from None
    if not result["ok"]:
        op = unsupported_op(result["log"])
        if op:
            raise _error(f"{what} cannot run under TFLite Micro: its {op} op fails there "
                         f"({_reason(result['log'])})")
        raise _error(f"{what} cannot run under TFLite Micro: {_reason(result['log'])}")
    return int(result["arena_bytes"])


# -- running under TFLM and LiteRT's reference kernels ---------------------------------------------------------------
def micro_interpreter(data, arena_bytes):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(bytes(data), arena_size=int(arena_bytes))


# LiteRT's reference kernels (what the issue asks TFLM to match) and its optimized builtin kernels without the
# XNNPACK delegate (what the exporter's checks and the device examples run, minus the delegate).
REFERENCES = {"litert_reference": "BUILTIN_REF", "litert_builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}


def reference_interpreter(data, resolver="BUILTIN_REF"):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interp = Interpreter(model_content=bytes(data),
                         experimental_op_resolver_type=getattr(OpResolverType, resolver))
    interp.allocate_tensors()
    return interp


def output_steps(ref):
    """Per graph output (in the graph's order): the size of one quantized step of that output: its own scale
    for a quantized output, the scale of the int8 tensor its DEQUANTIZE reads for a float one (None: not
    quantized anywhere, compared as floats)."""
    tensors = {t["index"]: t for t in ref.get_tensor_details()}
    producer = {int(o): op for op in ref._get_ops_details() for o in op["outputs"]}
    steps = []
    for d in ref.get_output_details():
        scale = d["quantization"][0]
        if not scale and d["index"] in producer and producer[d["index"]]["op_name"] == "DEQUANTIZE":
            scale = tensors[int(producer[d["index"]]["inputs"][0])]["quantization"][0]
        steps.append(float(scale) if scale else None)
    return steps


def graph_inputs(ref):
    """[(dtype, shape, (scale, zero point))] of the graph's inputs, in its order (TFLM's set_input indices)."""
    return [(np.dtype(d["dtype"]), [int(s) for s in d["shape"]], d["quantization"]) for d in ref.get_input_details()]


class Pair:
    """One .tflite under TFLM and under LiteRT's reference kernels, fed the same raw tensors one sample (or one
    fixed batch) at a time."""

    def __init__(self, data, arena_bytes, resolver="BUILTIN_REF"):
        self.ref = reference_interpreter(data, resolver)
        self.micro = micro_interpreter(data, arena_bytes)
        self.inputs = graph_inputs(self.ref)
        self.steps = output_steps(self.ref)
        self.rows = self.inputs[0][1][0] if self.inputs and self.inputs[0][1] else 1
        for i, (_, shape, _) in enumerate(self.inputs):   # the same shape as TFLM's (batch 1 when dynamic)
            self.ref.resize_tensor_input(self.ref.get_input_details()[i]["index"], shape)
        self.ref.allocate_tensors()

    def feed(self, raw):
        """Raw graph-order arrays (already quantized when the input is int8) -> (micro outputs, ref outputs)."""
        n = len(raw[0])
        micro, ref = [], []
        for start in range(0, n, self.rows):
            rows = [x[start:start + self.rows] for x in raw]
            got = len(rows[0])
            rows = [np.concatenate([r, np.zeros((self.rows - got, *r.shape[1:]), r.dtype)]) if got < self.rows
                    else r for r in rows]
            for i, (dtype, shape, _) in enumerate(self.inputs):
                x = np.asarray(rows[i], dtype).reshape(shape)
                self.micro.set_input(x, i)
                self.ref.set_tensor(self.ref.get_input_details()[i]["index"], x)
            self.micro.invoke()
            self.ref.invoke()
            outs = self.ref.get_output_details()
            micro.append([np.array(self.micro.get_output(k))[:got] for k in range(len(outs))])
            ref.append([np.array(self.ref.get_tensor(o["index"]))[:got] for o in outs])
        return ([np.concatenate([m[k] for m in micro]) for k in range(len(self.steps))],
                [np.concatenate([r[k] for r in ref]) for k in range(len(self.steps))])

    def quantize(self, arrays):
        """Float arrays in graph order -> what each graph input takes (int8 inputs quantized with their own
        scale and zero point; integer ids as they are)."""
        out = []
        for x, (dtype, _, (scale, zp)) in zip(arrays, self.inputs):
            if dtype.kind in "iu" and scale:
                info = np.iinfo(dtype)
                x = np.clip(np.round(np.asarray(x, np.float32) / scale) + zp, info.min, info.max)
            out.append(np.asarray(x, dtype))
        return out

    def compare(self, arrays):
        """max |TFLM - reference| per output, in quantized steps, over `arrays` (float, graph order)."""
        micro, ref = self.feed(self.quantize(arrays))
        result = []
        for m, r, step in zip(micro, ref, self.steps):
            d = np.abs(np.asarray(m, np.float64) - np.asarray(r, np.float64))
            if np.asarray(r).dtype.kind == "f" and step:
                d = d / step
            result.append({"max_steps": float(np.round(d.max(), 3)) if d.size else 0.0,
                           "differing": int(np.count_nonzero(d > 1e-3)), "values": int(d.size),
                           "step": step})
        return result


def graph_order(ref, names, arrays):
    """Arrays given in `names` order (the Keras part's) -> graph input order, through the signature."""
    sig = ref.get_signature_runner().get_input_details()
    position = {d["index"]: i for i, d in enumerate(ref.get_input_details())}
    ordered = [None] * len(arrays)
    for name, x in zip(names, arrays):
        ordered[position[sig[name]["index"]]] = x
    return ordered


def fully_integer(ref):
    """int8 input and output tensors (a part that takes int ids counts by its outputs and float-free inputs)."""
    ins = [np.dtype(d["dtype"]) for d in ref.get_input_details()]
    outs = [np.dtype(d["dtype"]) for d in ref.get_output_details()]
    return all(t.kind in "iu" for t in ins) and all(t == np.int8 for t in outs)


def parity(data, arena_bytes, names, arrays):
    """The comparison record: TFLM against LiteRT's reference kernels (and its optimized builtin ones) on
    `arrays` (Keras input order), in quantized steps. "max_steps" is against the reference kernels;
    "passed" when TFLM is within MAX_STEPS of either set of LiteRT kernels (they round requantization
    differently: see docs/export.md)."""
    record = {"examples": int(len(arrays[0])),
              "inputs": "ExportPart.inputs(n, seed=0) (the part's representative inputs)", "bound_steps": MAX_STEPS}
    for key, resolver in REFERENCES.items():
        pair = Pair(data, arena_bytes, resolver)
        per_output = pair.compare(graph_order(pair.ref, names, arrays))
        by_index = {d["index"]: n for n, d in pair.ref.get_signature_runner().get_output_details().items()}
        out_names = [by_index[d["index"]] for d in pair.ref.get_output_details()]
        worst = max(o["max_steps"] for o in per_output)
        record[key] = {"op_resolver": resolver, "max_steps": worst, "bit_exact": worst == 0,
                       "outputs": dict(zip(out_names, per_output))}
    record["max_steps"] = record["litert_reference"]["max_steps"]
    record["passed"] = min(record[k]["max_steps"] for k in REFERENCES) <= MAX_STEPS
    return record


class MicroRunner:
    """A LiteRTRunner whose calls go through TFLM (one sample at a time): the part's task metric through TFLM."""

    def __init__(self, runner, data, arena_bytes):
        self.base = runner
        self.pair = Pair(data, arena_bytes)
        sig_in = self.pair.ref.get_signature_runner().get_input_details()
        sig_out = self.pair.ref.get_signature_runner().get_output_details()
        pos_in = {d["index"]: i for i, d in enumerate(self.pair.ref.get_input_details())}
        pos_out = {d["index"]: i for i, d in enumerate(self.pair.ref.get_output_details())}
        self.in_pos = [pos_in[sig_in[n]["index"]] for n in runner.input_order]
        self.out_pos = [pos_out[sig_out[n]["index"]] for n in runner.output_order]

    def run_once(self, inputs):
        raw = [None] * len(inputs)
        for name, pos, x in zip(self.base.input_order, self.in_pos, inputs):
            raw[pos] = self.base._quantize(name, x)
        micro, _ = self.pair.feed(raw)
        return [self.base._dequantize(n, micro[p]) for n, p in zip(self.base.output_order, self.out_pos)]

    def __call__(self, inputs, batch_size=256):
        self.base.check_inputs(inputs)
        return self.run_once([np.asarray(x) for x in inputs])


def micro_record(data, part, name, runner, arena_bytes, ops):
    """export.json's "micro" field for one int8 file (`runner`: its LiteRTRunner)."""
    arrays = part.inputs(PARITY_SIZE, 0)
    pair_check = parity(data, arena_bytes, runner.input_order, [np.asarray(a) for a in arrays])
    metric = part.metric(MicroRunner(runner, data, arena_bytes)) if part.metric is not None else None
    ref = reference_interpreter(data)
    return {"runtime": "tflite-micro (TFLM reference kernels on the host)", "arena_bytes": int(arena_bytes),
            "arena_rule": "smallest arena_size (16-byte steps) with which the TFLM Python interpreter "
                          "allocates and invokes the graph (bisection)",
            "ops": ops, "fully_integer": fully_integer(ref), "parity": pair_check,
            "metric": metric, "passed": bool(pair_check["passed"])}


if __name__ == "__main__":   # the helper process: python export/micro.py probe MODEL LOG
    if len(sys.argv) == 4 and sys.argv[1] == "probe":
        print(json.dumps(_probe(sys.argv[2], sys.argv[3])))
    else:
        sys.exit("usage: micro.py probe MODEL.tflite LOG")
