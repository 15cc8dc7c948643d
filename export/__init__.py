"""Export zoo models' parts for deployment: LiteRT .tflite (float32, float16, dynamic-range, full int8, optional
int8 input/output and fixed batch) and TensorFlow SavedModel, each checked against Keras and recorded in
export.json.

    import export
    export.to_litert("vae_mnist", part="decoder", quantize="int8")      # -> runs/vae_mnist/exports/
    export.to_saved_model(model, part="encoder", out="/tmp/exports")
    runner = export.LiteRTRunner("runs/vae_mnist/exports/decoder_int8.tflite")   # checked before use

Which parts a model has, the inputs they are compared and calibrated on and their task metric come from the
model's family (its `export_parts` hook); the data from the model's preset. `export` imports `zoo`; `zoo` never
imports `export`.
"""
# Lazy attributes: importing `export` (as `python -m export` does before parsing arguments) costs nothing;
# TensorFlow loads on first use of the API.
import importlib

from export.names import FORMATS, IO, MANIFEST, QUANTIZE

_LAZY = {
    "to_litert": "export.api", "to_saved_model": "export.api", "export_all": "export.api", "prepare": "export.api",
    "load_litert": "export.litert", "ops_of": "export.litert", "LiteRTRunner": "export.litert",
    "load_saved_model": "export.savedmodel", "SavedModelRunner": "export.savedmodel",
    "read_manifest": "export.manifest", "ExportError": "export.parts",
}
__all__ = sorted(_LAZY) + ["FORMATS", "QUANTIZE", "IO", "MANIFEST"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("api", "litert", "savedmodel", "parts", "validate", "manifest", "contract"):
        return importlib.import_module(f"export.{name}")
    raise AttributeError(f"module 'export' has no attribute {name!r}")
