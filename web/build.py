"""Build the static page's runtime files: `make web` runs this after `npm ci` in web/.

    python web/build.py [--skip-export]

1. Exports each web model's part as an int8 LiteRT file with a fixed batch of 1 (LiteRT.js refuses a dynamic
   batch dimension) through the project's exporter, `python -m export NAME --part P --format litert --quantize int8
   --batch 1`, into web/.export/NAME. The int8 calibration needs the training data ($ZOO_DATA_DIR). A file whose
   export.json records the sha256 of the current saved_models/NAME/model.keras is not exported again.
2. Copies the .tflite files to web/models/ and writes web/models/models.json (file, sha256, tensor shapes, the
   command that made each file), which the page reads first: it shows a panel for each model listed there.
3. Copies LiteRT.js' ES modules to web/lib/ and its single-threaded WASM runtimes to web/wasm/ from
   web/node_modules, so the page loads nothing from outside its own folder.

Optional models (the GAN generator) are exported only when their saved model exists; the page shows their panel
only when models.json lists them."""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
LITERTJS = WEB / "node_modules" / "@litertjs"

# (registered model, exported part, the page's role for it, required?). Roles are what app.js draws for a model.
MODELS = [
    ("vae_mnist", "decoder", "decoder-sliders", True),
    ("vae2d_mnist", "decoder", "decoder-pad", True),
    ("mnist_classifier", "classifier", "classifier", True),
    ("cgan_mnist", "generator", "generator", False),
]

# Only the single-threaded builds: the threaded one needs cross-origin isolation headers that a plain static
# server (python -m http.server) does not send, and JSPI is needed only for WebNN/WebGPU partitioning. The compat
# build is the fallback for browsers without relaxed SIMD.
WASM_FILES = ["litert_wasm_internal.js", "litert_wasm_internal.wasm",
              "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def export(name, part, skip):
    """The fixed-batch int8 file for (name, part) and its export.json entry, exported when stale."""
    source = ROOT / "saved_models" / name / "model.keras"
    out = WEB / ".export" / name
    manifest = out / "export.json"
    source_sha = sha256(source)

    def current():
        if not manifest.is_file():
            return None
        for entry in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if (entry.get("part") == part and entry.get("quantize") == "int8" and entry.get("batch") == 1
                    and entry.get("io") == "float" and entry.get("source_sha256") == source_sha
                    and (out / entry["file"]).is_file() and sha256(out / entry["file"]) == entry.get("sha256")):
                return entry
        return None

    entry = current()
    if entry is None and not skip:
        command = [sys.executable, "-m", "export", name, "--part", part, "--format", "litert", "--quantize", "int8",
                   "--batch", "1", "--no-latency", "--out", str(out)]
        print(f"web: exporting {name} {part} (int8, batch 1)", flush=True)
        done = subprocess.run(command, cwd=ROOT)
        if done.returncode != 0:
            fail(f"export of {name} {part} failed (exit {done.returncode}); the int8 calibration needs MNIST: "
                 "set ZOO_DATA_DIR")
        entry = current()
    if entry is None:
        fail(f"no int8 batch-1 export of {name} {part} from the current model.keras in {out}")
    return out / entry["file"], entry, json.loads(manifest.read_text())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python web/build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--skip-export", action="store_true", help="use the existing web/.export files only")
    args = p.parse_args(argv)
    if not LITERTJS.is_dir():
        fail(f"{LITERTJS} is missing: run `npm ci` in web/ first")
    package = json.loads((LITERTJS / "core" / "package.json").read_text())

    models_dir = WEB / "models"
    staging = WEB / ".models.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    listed = {}
    for name, part, role, required in MODELS:
        if not (ROOT / "saved_models" / name / "model.keras").is_file():
            if required:
                fail(f"saved_models/{name}/model.keras is missing")
            print(f"web: {name} not shipped yet: its panel stays hidden")
            continue
        path, entry, manifest = export(name, part, args.skip_export)
        file = f"{name}_{part}_int8.tflite"
        shutil.copyfile(path, staging / file)
        listed[name] = {
            "role": role, "part": part, "file": file, "bytes": entry["size_bytes"], "sha256": entry["sha256"],
            "inputs": entry["inputs"], "outputs": entry["outputs"],
            # Images the page draws are value * 255 after mapping this range to [0, 1] (a tanh GAN says [-1, 1]).
            "output_range": entry.get("output_range", [0.0, 1.0]),
            "quantize": "int8", "batch": 1, "source": f"saved_models/{name}/model.keras",
            "source_sha256": entry["source_sha256"], "metric": entry.get("metric"),
            "command": manifest.get("commands", [""])[-1].replace(str(WEB.parent) + "/", ""),
        }
    (staging / "models.json").write_text(json.dumps(
        {"litertjs": package["version"], "models": listed}, indent=1) + "\n")
    shutil.rmtree(models_dir, ignore_errors=True)
    staging.rename(models_dir)

    wasm = WEB / "wasm"
    wasm.mkdir(exist_ok=True)
    for f in WASM_FILES:
        shutil.copyfile(LITERTJS / "core" / "wasm" / f, wasm / f)
    for pkg in ("core", "wasm-utils"):
        lib = WEB / "lib" / pkg
        lib.mkdir(parents=True, exist_ok=True)
        for f in ("index.js", "index.js.map"):
            shutil.copyfile(LITERTJS / pkg / "dist" / f, lib / f)
    print(f"web: {len(listed)} models in web/models, LiteRT.js {package['version']} in web/lib and web/wasm; "
          "serve with: python -m http.server -d web 8000")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
