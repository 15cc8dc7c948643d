"""Every shipped int8 .tflite (saved_models/*/exports/*.tflite whose export.json record says int8) under TensorFlow
Lite Micro and under LiteRT's kernels, on the part's own representative inputs (ExportPart.inputs(64, seed=0)):
max |TFLM - LiteRT| in quantized steps against the reference kernels (BUILTIN_REF) and the optimized builtin
ones (no XNNPACK), the smallest arena TFLM allocates and invokes it with, the op list, whether it is fully
integer, and whether TFLM could run it at all (export/micro.py does the work).

    python bench/micro_parity.py [--out bench/results/micro_parity.json] [NAME ...]
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def shipped_int8(names=None):
    for manifest in sorted((ROOT / "saved_models").glob("*/exports/export.json")):
        model = manifest.parent.parent.name
        if names and model not in names:
            continue
        records = json.loads(manifest.read_text())["artifacts"]
        for file, rec in sorted(records.items()):
            if file.endswith(".tflite") and rec.get("quantize") == "int8":
                yield model, manifest.parent / file, rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="models (default: every shipped one)")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--n", type=int, default=64, help="representative inputs per part (default 64)")
    args = ap.parse_args(argv)

    import numpy as np

    from export import micro
    from export.litert import ops_of
    from export.parts import ExportError, data_for, parts_of, resolve
    from zoo import io as zio

    rows, parts_cache = [], {}
    for model, path, rec in shipped_int8(args.names):
        data = path.read_bytes()
        row = {"model": model, "file": path.name, "part": rec["part"], "io": rec.get("io"),
               "bytes": len(data), "sha256": zio.sha256(path), "ops": ops_of(data)}
        print(f"{model}/{path.name} ...", file=sys.stderr, flush=True)
        try:
            row["arena_bytes"] = micro.measure_arena(data, f"{model}/{path.name}")
        except ExportError as e:
            row.update({"invoke_ok": False, "refused": str(e)})
            rows.append(row)
            continue
        row["invoke_ok"] = True
        if model not in parts_cache:
            source = resolve(model)
            parts_cache[model] = parts_of(source, data_for(source)[0])
        part = parts_cache[model][rec["part"]]
        names = [t["name"] for t in rec["inputs"]]
        arrays = [np.asarray(a) for a in part.inputs(args.n, 0)]
        pair = micro.Pair(data, row["arena_bytes"])
        row["fully_integer"] = micro.fully_integer(pair.ref)
        row["parity"] = micro.parity(data, row["arena_bytes"], names, arrays)
        rows.append(row)
    result = {"command": "python bench/micro_parity.py" + (" " + " ".join(argv) if argv else ""),
              "what": __doc__.split("\n\n")[0].replace("\n", " "), "versions": zio.versions(),
              "tflite_micro": _version("tflite-micro"), "files": rows}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def _version(dist):
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main(sys.argv[1:])
