"""Export zoo models' parts (encoder, decoder, generator) for deployment: LiteRT .tflite (float32, float16,
dynamic-range, full int8) and TensorFlow SavedModel, each checked against Keras and recorded in export.json.

    import export
    export.to_litert("vae_mnist", part="decoder", quantize="int8", io="float", out="exports/")
    export.to_saved_model(model, part="encoder", out="exports/")
    interp = export.load_litert("exports/decoder_int8.tflite")    # refuses corrupt/truncated files

`export` imports `zoo`; `zoo` never imports `export`.
"""
# Lazy attributes: importing `export` (as `python -m export` does before parsing arguments) costs nothing;
# TensorFlow loads on first use of the API.
from export.names import FORMATS, IO, MANIFEST, PARTS, QUANTIZE

_LAZY = {
    "to_litert": "export.api", "to_saved_model": "export.api", "export_all": "export.api",
    "load_litert": "export.litert", "ops_of": "export.litert", "LiteRTRunner": "export.litert",
    "load_saved_model": "export.savedmodel", "SavedModelRunner": "export.savedmodel",
    "ExportError": "export.parts", "PartData": "export.parts", "available_parts": "export.parts",
}
__all__ = sorted(_LAZY) + ["PARTS", "FORMATS", "QUANTIZE", "IO", "MANIFEST"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("api", "litert", "savedmodel", "parts", "validate"):
        import importlib

        return importlib.import_module(f"export.{name}")
    raise AttributeError(f"module 'export' has no attribute {name!r}")
