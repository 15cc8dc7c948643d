"""Check an exported file against the Keras part it came from: output error on a seeded batch of the part's
own inputs (codes of real images for a decoder), the family's task metric through the file, finite outputs,
single-sample latency and (LiteRT) the op list."""

import keras
import numpy as np

from export.litert import latency_ms, non_builtin
from export.parts import keras_run

# The spacing of float32 numbers at 1.0: 2**-23 ~ 1.19e-7 (np.finfo(np.float32).eps).
FLOAT32_EPS = 2.0 ** -23
# A float32 file may differ from Keras by FLOAT32_ULPS * sqrt(summed_terms) ulps of the output scale.
FLOAT32_ULPS = 4
# float16 files round every weight to float16 (relative error 2**-11): about 10 float16 eps of the output scale.
FLOAT16_RELATIVE = 1e-2
FLOAT32_RULE = f"{FLOAT32_ULPS} * sqrt(terms) * 2**-23 * max|keras output|"
# The rule per variant, as export.json records it under "tolerances" (None: reported, not bounded).
MAX_ABS_RULE = {"savedmodel": FLOAT32_RULE, "none": FLOAT32_RULE,
                "float16": f"{FLOAT16_RELATIVE:g} * max|keras output|", "dynamic": None, "int8": None,
                "terms": "the summed fan-in of the part's weighted layers (export.validate.summed_terms)"}
# Variants whose task metric must stay within the part's metric_bound (relative) of the Keras model's.
QUANTIZED = ("dynamic", "int8")
COMPARISON_SIZE, COMPARISON_SEED = 64, 1   # calibration draws with seed 0


def _fan_in(layer, weight):
    shape = [int(d) for d in weight.shape]
    if "Transpose" in type(layer).__name__ and len(shape) >= 3:   # Conv*DTranspose: (..., out, in)
        return int(np.prod(shape[:-2])) * shape[-1]
    return int(np.prod(shape[:-1]))


def summed_terms(model):
    """How many products a float32 output is summed from, layer after layer: the fan-in of every layer of
    `model` (nested models counted through) that holds a weight of rank >= 2 (Dense, convolution, recurrent
    kernel plus recurrent matrix, a tied transpose), added up; at least 1. Embedding tables are looked up,
    not summed, and do not count."""
    n = 0
    for layer in getattr(model, "layers", ()):
        if getattr(layer, "layers", None):
            n += summed_terms(layer)
        elif not isinstance(layer, keras.layers.Embedding):
            n += sum(_fan_in(layer, w) for w in layer.weights if len(w.shape) >= 2)
    return max(n, 1)


def max_abs_bound(variant, outputs, terms):
    """The largest max|exported - keras| allowed on the comparison batch for `variant` ("savedmodel", or a
    LiteRT quantize: "none", "float16", "dynamic", "int8"), given the Keras outputs on that batch and the
    part's summed_terms; None for the quantized variants (their task metric is bounded instead).

    The one rule for float32 files (LiteRT "none" and SavedModel):

        bound = FLOAT32_ULPS * sqrt(terms) * FLOAT32_EPS * max|keras output|     (4 * sqrt(terms) ulps)

    Both sides run the same float32 graph through other kernels (XNNPACK or oneDNN; fused, vectorised or
    re-ordered sums; FMA or not; another CPU), so every addition may round differently by half an ulp of
    its partial sum. Independent roundings add up like a random walk: sqrt(number of additions) ulps of the
    magnitudes summed, which the largest output magnitude stands for. Measured on every shipped part and on
    the tests' tiny ones (docs/tolerances.md), max|d| is at most 0.65 * sqrt(terms) ulps of that scale, so
    the bound leaves a factor 6 or more. It scales with the outputs: a fixed 1e-5 is 84 ulps at 1 but under 3
    ulps at 30 (a linear code, Q-values, logits: a correct file fails on another CPU), and 10% of outputs
    of 1e-4 (a wrong file passes). float16 files are bounded relative to the same scale."""
    scale = max([0.0] + [float(np.max(np.abs(o))) for o in outputs if np.size(o)])
    if variant in ("savedmodel", "none"):
        return FLOAT32_ULPS * float(np.sqrt(max(1, int(terms)))) * FLOAT32_EPS * scale
    if variant == "float16":
        return FLOAT16_RELATIVE * scale
    return None


def output_error(want, got):
    """max and mean |exported - keras| over every output, the largest |keras output| and whether all are finite."""
    diffs = [np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) for a, b in zip(want, got)]
    return {"max_abs_diff": float(max(d.max() for d in diffs)),
            "mean_abs_diff": float(np.mean(np.concatenate([d.ravel() for d in diffs]))),
            "max_abs_keras_output": float(max(np.max(np.abs(w)) for w in want)),
            "finite": bool(all(np.all(np.isfinite(g)) for g in got))}


def keras_latency(part_model, single):
    args = single if len(single) > 1 else single[0]
    return latency_ms(lambda: part_model(args, training=False), repeats=100)


def comparison_inputs(part):
    """The part's own inputs the file is compared on (and its input contract read from)."""
    return part.inputs(COMPARISON_SIZE, COMPARISON_SEED)


def check(part, runner, kind, quantize="none", ops=None, timing=True, sample=None):
    """The report fields for one file. kind: "litert" or "savedmodel"; sample: comparison_inputs(part), when
    the caller has drawn them already."""
    batch = comparison_inputs(part) if sample is None else sample
    report = {"comparison_batch": {"size": int(len(batch[0])), "seed": COMPARISON_SEED,
                                   "inputs": "the part's own inputs (ExportPart.inputs)"}}
    want = keras_run(part.model, batch)
    report.update(output_error(want, runner(batch)))
    variant = "savedmodel" if kind == "savedmodel" else quantize
    terms = summed_terms(part.model)
    tol = max_abs_bound(variant, want, terms)
    report["max_abs_bound"] = tol      # next to max_abs_diff: the bound it was held to (None: not bounded)
    report["metric"] = part.metric(runner) if part.metric is not None else None
    checks = {"finite_outputs": {"passed": report["finite"]}}
    if tol is not None:
        checks["max_abs_diff"] = {"bound": tol, "rule": MAX_ABS_RULE[variant], "terms": terms,
                                  "max_abs_keras_output": report["max_abs_keras_output"],
                                  "passed": bool(report["max_abs_diff"] <= tol)}
    if kind == "litert" and quantize in QUANTIZED and report["metric"] and part.metric_bound is not None:
        rel = report["metric"]["relative_diff"]
        checks["metric_within_bound"] = {"metric": report["metric"]["name"], "bound": part.metric_bound,
                                         "passed": bool(abs(rel) <= part.metric_bound)}
    if ops is not None:
        bad = non_builtin(ops)
        report["ops"] = ops
        report["builtin_only"] = not bad
        checks["builtin_only"] = {"passed": not bad, **({"non_builtin": bad} if bad else {})}
    if timing:
        single = [x[:1] for x in batch]
        report["latency_ms_single"] = {
            "exported": latency_ms(lambda: runner.run_once(single)),
            "keras_call": keras_latency(part.model, single),
            "note": "median wall time, batch 1; LiteRT num_threads=1; Keras direct call (eager)"}
    report["checks"] = checks
    report["passed"] = all(c["passed"] for c in checks.values())
    return report
