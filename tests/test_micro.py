"""TensorFlow Lite Micro for int8 files (export/micro.py): the C array, the arena, parity with LiteRT's kernels,
and the refusal of a graph TFLM cannot run."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from export import micro  # noqa: E402
from export.parts import ExportError  # noqa: E402

# A child that builds a TFLM interpreter with the given arena and invokes it on zeros: a too-small arena makes
# TFLM's allocator fail and the interpreter crash, so it runs in its own process.
TRY_ARENA = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
d = interp.get_input_details(0)
interp.set_input(np.zeros(d["shape"], d["dtype"]), 0)
interp.invoke()
print("invoked", interp.get_output(0).shape)
"""


def _int8_file(model, representative, tmp_path, name):
    from export.litert import convert
    path = convert(model, tmp_path / f"{name}.tflite", quantize="int8", representative=representative)
    return path.read_bytes()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A two-layer int8 MLP (float io), 6 -> 16 -> 3, and its representative inputs."""
    import keras
    keras.utils.set_random_seed(0)
    x = keras.Input((6,), name="x")
    h = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(x, {"y": keras.layers.Dense(3)(h)}, name="tiny")
    rep = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    data = _int8_file(model, [{"x": rep[i:i + 16]} for i in range(0, 64, 16)], tmp_path_factory.mktemp("tiny"),
                      "tiny")
    return data, rep


def test_c_array_round_trips_to_the_exact_bytes_and_the_header_declares_the_length(tmp_path):
    data = bytes(range(256)) * 3 + b"\x00\xff\x7f"    # every byte value, and a length that is no multiple of 12
    paths = micro.write_c_files(data, tmp_path, "part_int8", "m-1 part_int8", ["model m-1, part p"], 4096,
                                write=lambda p, b: p.write_bytes(b))
    source, header = (p.read_text() for p in paths)
    assert micro.parse_c_array(source) == data
    assert "alignas(16) const unsigned char g_m_1_part_int8_model_data[" in source
    assert f"const unsigned int g_m_1_part_int8_model_data_len = {len(data)}u;" in source
    assert re.search(rf"#define M_1_PART_INT8_MODEL_DATA_LEN {len(data)}u", header)
    assert "#define M_1_PART_INT8_TENSOR_ARENA_BYTES 4096u" in header
    assert "extern const unsigned int g_m_1_part_int8_model_data_len;" in header
    assert source.startswith("// model m-1, part p") and '#include "part_int8_model_data.h"' in source


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_the_c_files_compile_with_the_array_aligned_and_whole(tiny, tmp_path):
    data = tiny[0]
    micro.write_c_files(data, tmp_path, "tiny_int8", "tiny_int8", ["tiny"], 1024, write=lambda p, b: p.write_bytes(b))
    (tmp_path / "main.cc").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "tiny_int8_model_data.h"\n'
        "int main() {\n"
        "  static_assert(TINY_INT8_MODEL_DATA_LEN == %du, \"length\");\n"
        "  unsigned sum = 0;\n"
        "  for (unsigned i = 0; i < g_tiny_int8_model_data_len; ++i) sum = sum * 31u + g_tiny_int8_model_data[i];\n"
        "  std::printf(\"%%u %%u %%c%%c%%c%%c\\n\", (unsigned)(reinterpret_cast<std::uintptr_t>(g_tiny_int8_model_data) %% 16),"
        " sum, g_tiny_int8_model_data[4], g_tiny_int8_model_data[5], g_tiny_int8_model_data[6],"
        " g_tiny_int8_model_data[7]);\n}\n" % len(data))
    exe = tmp_path / "main"
    subprocess.run(["g++", "-std=c++17", "-O0", "-I", str(tmp_path), str(tmp_path / "main.cc"),
                    str(tmp_path / "tiny_int8_model_data.cc"), "-o", str(exe)], check=True, capture_output=True)
    align, checksum, ident = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    want = 0
    for b in data:
        want = (want * 31 + b) % (1 << 32)
    assert (int(align), int(checksum), ident) == (0, want, "TFL3")


def _invoke_in_child(path, arena):
    return subprocess.run([sys.executable, "-c", TRY_ARENA, str(path), str(arena)], capture_output=True, text=True,
                          timeout=120)


def test_the_arena_figure_is_enough_and_a_smaller_one_is_not(tiny, tmp_path):
    data = tiny[0]
    arena = micro.measure_arena(data, "tiny")
    assert arena % micro.ALIGN == 0 and 0 < arena < 1 << 20
    path = tmp_path / "tiny.tflite"
    path.write_bytes(data)
    ok = _invoke_in_child(path, arena)
    assert ok.returncode == 0 and "invoked" in ok.stdout, ok.stderr[-500:]
    short = _invoke_in_child(path, arena - micro.ALIGN)
    assert short.returncode != 0 and "invoked" not in short.stdout


def test_a_tiny_int8_part_runs_under_tflm_as_under_litert_reference_kernels(tiny):
    data, rep = tiny
    record = micro.parity(data, micro.measure_arena(data, "tiny"), ["x"], [rep])
    assert record["examples"] == 64
    for key in micro.REFERENCES:
        out = record[key]["outputs"]["y"]
        assert out["values"] == 64 * 3 and out["step"] > 0
        assert record[key]["max_steps"] <= micro.MAX_STEPS, record[key]
    assert record["passed"]
    # independently: the raw outputs of both interpreters, differenced in units of the DEQUANTIZE input's scale
    pair = micro.Pair(data, micro.measure_arena(data, "tiny"))
    got, ref = pair.feed(pair.quantize([rep]))
    scale = [t for t in pair.ref.get_tensor_details() if t["dtype"] == np.int8 and t["name"].startswith(
        "StatefulPartitionedCall")]
    steps = np.max(np.abs(got[0].astype(np.float64) - ref[0])) / pair.steps[0]
    assert got[0].dtype == np.float32 and record["litert_reference"]["max_steps"] == pytest.approx(steps, abs=1e-3)
    assert scale and pair.steps[0] in [t["quantization"][0] for t in scale]


def test_a_part_with_an_op_tflm_lacks_is_refused_in_one_line_naming_it(tmp_path):
    import keras
    ids = keras.Input((), dtype="int32", name="word_id")
    # Keras' Embedding wraps negative ids with LESS/ADD/SELECT_V2 on int32; TFLM has no int32 SELECT_V2
    model = keras.Model(ids, {"vector": keras.layers.Embedding(12, 4)(ids)}, name="lookup")
    rep = [{"word_id": np.arange(12, dtype=np.int32)}]
    data = _int8_file(model, rep, tmp_path, "lookup")
    with pytest.raises(ExportError) as e:
        micro.measure_arena(data, "lookup's embedding")
    message = str(e.value)
    assert "\n" not in message and "SELECT_V2" in message and message.startswith("lookup's embedding cannot run")


def test_target_micro_needs_int8():
    from export.api import check_target
    with pytest.raises(ExportError, match="--target micro needs --quantize int8"):
        check_target("micro", ["int8", "float16"])
    with pytest.raises(ExportError, match="unknown target 'mcu'"):
        check_target("mcu", ["int8"])
    check_target("micro", ["int8"])
    check_target(None, ["none"])
