"""Check an exported file against the Keras part it came from: output error on a seeded batch of the part's
own inputs (codes of real images for a decoder), the family's task metric through the file, finite outputs,
single-sample latency and (LiteRT) the op list."""

import numpy as np

from export.litert import latency_ms, non_builtin
from export.parts import keras_run

# Max abs difference from Keras allowed per variant on the comparison batch (None: reported, not bounded).
MAX_ABS_TOL = {"savedmodel": 1e-5, "none": 1e-5, "float16": 1e-2, "dynamic": None, "int8": None}
# Variants whose task metric must stay within the part's metric_bound (relative) of the Keras model's.
QUANTIZED = ("dynamic", "int8")
COMPARISON_SIZE, COMPARISON_SEED = 64, 1   # calibration draws with seed 0


def output_error(part, runner, batch):
    want = keras_run(part.model, batch)
    got = runner(batch)
    diffs = [np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) for a, b in zip(want, got)]
    return {"max_abs_diff": float(max(d.max() for d in diffs)),
            "mean_abs_diff": float(np.mean(np.concatenate([d.ravel() for d in diffs]))),
            "finite": bool(all(np.all(np.isfinite(g)) for g in got))}


def keras_latency(part_model, single):
    args = single if len(single) > 1 else single[0]
    return latency_ms(lambda: part_model(args, training=False), repeats=100)


def check(part, runner, kind, quantize="none", ops=None, timing=True):
    """The report fields for one file. kind: "litert" or "savedmodel"."""
    batch = part.inputs(COMPARISON_SIZE, COMPARISON_SEED)
    report = {"comparison_batch": {"size": int(len(batch[0])), "seed": COMPARISON_SEED,
                                   "inputs": "the part's own inputs (ExportPart.inputs)"}}
    report.update(output_error(part, runner, batch))
    report["metric"] = part.metric(runner) if part.metric is not None else None
    checks = {"finite_outputs": {"passed": report["finite"]}}
    tol = MAX_ABS_TOL["savedmodel" if kind == "savedmodel" else quantize]
    if tol is not None:
        checks["max_abs_diff"] = {"bound": tol, "passed": bool(report["max_abs_diff"] <= tol)}
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
