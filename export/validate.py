"""Check an exported file against the Keras part it came from: output error on a fixed seeded batch, the task
metric through the file, single-sample latency, and (LiteRT) the op list and the builtin-only rule."""

import numpy as np

from export.litert import latency_ms, non_builtin
from export.parts import keras_predict

# Max abs difference from Keras allowed per format on the comparison batch (None: reported, not bounded).
MAX_ABS_TOL = {"savedmodel": 1e-5, "none": 1e-5, "float16": 1e-2, "dynamic": None, "int8": None}
# int8 decoders: reconstruction BCE through Keras encoder -> exported decoder within 2% of the float chain.
INT8_METRIC_REL_TOL = 0.02


def output_error(part_model, runner, batch):
    want = keras_predict(part_model, batch)
    got = runner(batch)
    diffs = [np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) for a, b in zip(want, got)]
    return {"max_abs_diff": float(max(d.max() for d in diffs)),
            "mean_abs_diff": float(np.mean(np.concatenate([d.ravel() for d in diffs])))}


def keras_latency(part_model, single):
    args = single if len(single) > 1 else single[0]
    return latency_ms(lambda: part_model(args, training=False), repeats=100)


def check(pd, runner, kind, quantize="none", ops=None, timing=True, keras_ms=None):
    """The report fields for one artifact. kind: "litert" or "savedmodel"."""
    batch = pd.comparison_batch()
    report = {"comparison_batch": {"size": int(len(batch[0])), "seed": 0,
                                   "inputs": "test images" if pd.part in ("encoder", "classifier") else "N(0, I) codes"}}
    report.update(output_error(pd.part_model, runner, batch))
    report["metric"] = pd.metric(runner)
    checks = {}
    tol = MAX_ABS_TOL["savedmodel" if kind == "savedmodel" else quantize]
    if tol is not None:
        checks["max_abs_diff"] = {"bound": tol, "passed": bool(report["max_abs_diff"] <= tol)}
    if kind == "litert" and quantize == "int8" and pd.part == "decoder" and report["metric"]:
        rel = report["metric"]["relative_diff"]
        checks["int8_bce_within_2pct"] = {"bound": INT8_METRIC_REL_TOL,
                                          "passed": bool(abs(rel) <= INT8_METRIC_REL_TOL)}
    if ops is not None:
        bad = non_builtin(ops)
        report["ops"] = ops
        report["builtin_only"] = not bad
        checks["builtin_only"] = {"passed": not bad, **({"non_builtin": bad} if bad else {})}
    if timing:
        single = [x[:1] for x in batch]
        report["latency_ms_single"] = {
            "exported": latency_ms(lambda: runner.run_once(single)),
            "keras_call": keras_ms if keras_ms is not None else keras_latency(pd.part_model, single),
            "note": "median wall time, batch 1, LiteRT num_threads=1; Keras direct call (eager)"}
    report["checks"] = checks
    report["passed"] = all(c["passed"] for c in checks.values())
    return report
