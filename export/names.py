"""Names shared by the exporter, importable without TensorFlow (the CLI checks arguments before the heavy
imports, so `python -m export --help` and argument errors are instant)."""

PARTS = ("encoder", "decoder", "generator", "classifier")
FORMATS = ("savedmodel", "litert")
QUANTIZE = ("none", "float16", "dynamic", "int8")
IO = ("float", "int8")
MANIFEST = "export.json"
