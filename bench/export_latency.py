"""Latency of one model part across runtimes: Keras predict, Keras direct call, SavedModel (tf.saved_model.load,
serving_default), LiteRT float32 / float16 / dynamic / int8, at batch 1 and batch 64; with size, max abs error
against Keras, and the family's task metric through each file (a decoder: reconstruction BCE through the Keras
encoder and this decoder on the test images).

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


def main(argv=None):
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

    from export.api import prepare, to_litert, to_saved_model
    from export.litert import LiteRTRunner, latency_ms
    from export.parts import input_names, output_names
    from export.savedmodel import SavedModelRunner

    start = time.time()
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        job = prepare(name, out=tmp)
        if args.part not in job.parts:
            raise SystemExit(f"error: {name} has no {args.part!r} part; it has: {', '.join(job.parts)}")
        part = job.parts[args.part]
        names_in, names_out = input_names(part.model), output_names(part.model)
        batch64 = part.inputs(64, 2)  # the part's own inputs: codes of real images for a decoder
        batches = {1: [x[:1] for x in batch64], 64: batch64}

        def lat(fn):
            return latency_ms(fn, repeats=500, warmup=5, budget_s=args.budget)

        def keras_args(b):
            return b if len(b) > 1 else b[0]

        rows = [{"runtime": "keras_predict", **{f"latency_ms_batch{n}": lat(lambda b=b: part.model.predict(
                    keras_args(b), verbose=0, batch_size=len(b[0]))) for n, b in batches.items()}},
                {"runtime": "keras_call", **{f"latency_ms_batch{n}": lat(lambda b=b: part.model(
                    keras_args(b), training=False)) for n, b in batches.items()}}]
        sm = to_saved_model(None, args.part, timing=False, manifest=False, job=job)
        runner = SavedModelRunner(sm["path"], names_in, names_out)
        rows.append({"runtime": "savedmodel_serve", "size_bytes": sm["size_bytes"],
                     "max_abs_diff": sm["max_abs_diff"], "metric": (sm["metric"] or {}).get("exported"),
                     **{f"latency_ms_batch{n}": lat(lambda b=b: runner.run_once(b)) for n, b in batches.items()}})
        keras_metric = metric_name = None
        for q in ("none", "float16", "dynamic", "int8"):
            r = to_litert(None, args.part, q, "float", timing=False, manifest=False, job=job)
            runner = LiteRTRunner(r["path"], names_in, names_out, num_threads=args.threads, verify_manifest=False)
            m = r["metric"] or {}
            keras_metric, metric_name = m.get("keras", keras_metric), m.get("name", metric_name)
            rows.append({"runtime": f"litert_{r['quantize']}", "size_bytes": r["size_bytes"],
                         "max_abs_diff": r["max_abs_diff"], "mean_abs_diff": r["mean_abs_diff"],
                         "metric": m.get("exported"), "metric_relative_to_keras": m.get("relative_diff"),
                         **{f"latency_ms_batch{n}": lat(lambda b=b: runner.run_once(b))
                            for n, b in batches.items()}})
        metric_chain = m.get("chain")
    import keras
    import tensorflow as tf

    result = {
        "model": name, "part": args.part, "parameters": int(part.model.count_params()),
        "metric": metric_name, "metric_keras": keras_metric, "metric_chain": metric_chain,
        "max_abs_diff_batch": "64 of the part's own inputs (ExportPart.inputs(64, seed=2)): codes of training "
                              "images for a decoder",
        "latency": "median wall ms per call, inputs already in memory; LiteRT via ai_edge_litert signature "
                   f"runner, num_threads={args.threads}; keras_call is an eager direct call",
        "cpu_count": os.cpu_count(),
        # latencies are only comparable between runs on an equally idle machine
        "load_average_1min_at_start": load_at_start,
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "rows": rows, "seconds": round(time.time() - start, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
