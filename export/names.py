"""Names shared by the exporter, importable without TensorFlow (the CLI checks its arguments before the heavy
imports, so `python -m export --help` and argument errors are instant). No part names here: which parts a
model has is its family's business (the family's `export_parts` hook)."""

FORMATS = ("savedmodel", "litert")
QUANTIZE = ("none", "float16", "dynamic", "int8")
IO = ("float", "int8")
MANIFEST = "export.json"
MANIFEST_VERSION = 2


def file_name(part, fmt, quantize="none", io="float", batch=None):
    """decoder_int8.tflite, decoder_int8_int8io_b1.tflite, encoder_savedmodel, ...: one name per variant, so
    variants never overwrite each other."""
    suffix = f"_b{batch}" if batch else ""
    if fmt == "savedmodel":
        return f"{part}_savedmodel{suffix}"
    q = "float32" if quantize == "none" else quantize
    return f"{part}_{q}" + ("_int8io" if io == "int8" else "") + suffix + ".tflite"
