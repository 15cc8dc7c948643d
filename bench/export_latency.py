"""Latency of one decoder across runtimes: Keras predict, Keras direct call, SavedModel (tf.saved_model.load,
serving_default), LiteRT float32 / float16 / dynamic / int8, at batch 1 and batch 64; with size, max abs
error against Keras, and the reconstruction BCE (Keras encoder -> this decoder, test images) per format.

    python bench/export_latency.py [--model vae_mnist] [--part decoder] [--threads 1] [--out result.json]

Defaults to vae_mnist when its pretrained weights exist, else ae_mnist. Prints JSON. Under a minute on
two CPU cores for the zoo's dense decoders.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def main(argv=None):
    import zoo
    from zoo import registry

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--part", default="decoder")
    p.add_argument("--threads", type=int, default=1, help="LiteRT interpreter threads (default 1)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds per latency measurement (default 1)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    name = args.model or ("vae_mnist" if (registry.saved_models_dir() / "vae_mnist" / "model.keras").is_file()
                          else "ae_mnist")

    import export
    from export.api import to_litert, to_saved_model
    from export.litert import LiteRTRunner, latency_ms
    from export.parts import PartData
    from export.savedmodel import SavedModelRunner

    start = time.time()
    model = zoo.load(name)
    pd = PartData(model, args.part, name)
    part = pd.part_model
    rng = np.random.default_rng(0)
    batches = {1: pd.comparison_batch(1, seed=1), 64: pd.comparison_batch(64, seed=2)}

    def lat(fn):
        return latency_ms(fn, repeats=500, warmup=5, budget_s=args.budget)

    rows = []

    def keras_args(b):
        return b if len(b) > 1 else b[0]

    rows.append({"runtime": "keras_predict", **{f"latency_ms_batch{n}": lat(lambda b=b: part.predict(
        keras_args(b), verbose=0, batch_size=len(b[0]))) for n, b in batches.items()}})
    rows.append({"runtime": "keras_call", **{f"latency_ms_batch{n}": lat(lambda b=b: part(
        keras_args(b), training=False)) for n, b in batches.items()}})
    with tempfile.TemporaryDirectory() as tmp:
        sm = to_saved_model(model, args.part, out=tmp, timing=False, manifest=False, _resolved=(model, name, None, pd))
        runner = SavedModelRunner(sm["path"], pd.names)
        rows.append({"runtime": "savedmodel_serve", "size_bytes": sm["size_bytes"],
                     "max_abs_diff": sm["max_abs_diff"], "bce": (sm["metric"] or {}).get("exported"),
                     **{f"latency_ms_batch{n}": lat(lambda b=b: runner.run_once(b)) for n, b in batches.items()}})
        for q in ("none", "float16", "dynamic", "int8"):
            r = to_litert(model, args.part, q, "float", out=tmp, timing=False, manifest=False,
                          _resolved=(model, name, None, pd))
            runner = LiteRTRunner(r["path"], pd.names, num_threads=args.threads, verify_manifest=False)
            rows.append({"runtime": f"litert_{r['quantize']}", "size_bytes": r["size_bytes"],
                         "max_abs_diff": r["max_abs_diff"], "mean_abs_diff": r["mean_abs_diff"],
                         "bce": (r["metric"] or {}).get("exported"),
                         "bce_relative_to_float": (r["metric"] or {}).get("relative_diff"),
                         **{f"latency_ms_batch{n}": lat(lambda b=b: runner.run_once(b))
                            for n, b in batches.items()}})
            keras_bce = (r["metric"] or {}).get("keras")
    import keras
    import tensorflow as tf

    result = {
        "model": name, "part": args.part, "parameters": int(part.count_params()),
        "keras_float_bce_per_image": keras_bce,
        "bce_chain": "keras encoder (code / z_mean) -> runtime's decoder, 2,690 test images",
        "max_abs_diff_batch": "64 seeded N(0, I) codes" if args.part != "encoder" else "64 test images",
        "latency": "median wall ms per call, inputs already in memory; LiteRT via ai_edge_litert signature "
                   f"runner, num_threads={args.threads}; keras_call is an eager direct call",
        "cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
        "rows": rows, "seconds": round(time.time() - start, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
