"""The export API: to_litert, to_saved_model, export_all (see the package docstring)."""


import datetime
import hashlib
import json
import os
import platform
from pathlib import Path

from export.parts import PARTS, ExportError, PartData, available_parts, family_of, resolve_model
from export.litert import IO, QUANTIZE, LiteRTRunner, file_stem, load_litert, ops_of
from export import litert as _litert
from export import savedmodel as _savedmodel
from export import validate as _validate
from export.savedmodel import SavedModelRunner, load_saved_model

from export.names import MANIFEST


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _default_out(name, source, out):
    if out is not None:
        return Path(out)
    if source is None:
        raise ExportError("out= is required when exporting a model object (no pretrained folder to write into)")
    return Path(source) / "exports"


def _versions():
    import tensorflow as tf
    import keras
    import numpy as np

    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:
        litert = "unknown"
    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "ai_edge_litert": litert, "numpy": np.__version__}


def _update_manifest(out, model, name, source, entry, command=None):
    """Merge one artifact's report into out/export.json (keyed by file name), atomically."""
    from zoo.registry import write_json_atomic

    path = Path(out) / MANIFEST
    manifest = {}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except ValueError:
            manifest = {}
    artifacts = manifest.get("artifacts", {})
    previous_commands = manifest.get("commands", [])
    # the manifest travels with the files: no absolute paths in it
    artifacts[entry["file"]] = {k: v for k, v in entry.items() if k != "path"}
    manifest = {
        "model": name,
        "family": family_of(model, name),
        "source": os.path.relpath(source, out) if source else None,
        "latent_dim": getattr(model, "latent_dim", None),
        "parts": available_parts(model),
        "versions": _versions(),
        "updated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tolerances": {"max_abs_diff": _validate.MAX_ABS_TOL,
                       "int8_decoder_bce_relative": _validate.INT8_METRIC_REL_TOL},
        "artifacts": dict(sorted(artifacts.items())),
    }
    model_file = Path(source) / "model.keras" if source else None
    if model_file is not None and model_file.is_file():
        manifest["source_sha256"] = _sha256(model_file)  # exports are stale once this stops matching
    commands = [c for c in previous_commands if c != command] + ([command] if command else [])
    if commands:
        manifest["commands"] = commands
    write_json_atomic(path, manifest)
    os.chmod(path, 0o666 & ~_litert._umask())
    return path


def _resolve(model_or_name, part):
    model, name, source = resolve_model(model_or_name)
    return model, name, source, PartData(model, part, name)


def to_litert(model_or_name, part="decoder", quantize="int8", io="float", out=None, timing=True,
              representative_size=2000, manifest=True, command=None, _resolved=None):
    """Convert one part to `<out>/<part>_<quantize>[_int8io].tflite` and check it.

    Returns the report dict (also merged into <out>/export.json): path, size_bytes, sha256, inputs/outputs
    (with scale and zero point for int8 tensors), ops, builtin_only, max/mean abs diff vs Keras, metric,
    single-sample latency, checks and passed.
    """
    model, name, source, pd = _resolved or _resolve(model_or_name, part)
    out = _default_out(name, source, out)
    path = out / (file_stem(part, quantize, io) + ".tflite")
    rep = pd.representative(representative_size) if quantize == "int8" else None
    _litert.converter_kwargs(quantize, io, rep if rep is not None else [])  # argument errors before any work
    _litert.convert(pd.part_model, path, quantize=quantize, io=io, representative=rep)
    runner = LiteRTRunner(path, input_order=pd.names, verify_manifest=False)  # manifest updated below
    ops = ops_of(path.read_bytes())
    entry = {"file": path.name, "path": str(path), "format": "litert", "part": part,
             "quantize": "float32" if quantize == "none" else quantize, "io": io,
             "size_bytes": path.stat().st_size, "sha256": _sha256(path), **runner.io_details()}
    if rep is not None:
        entry["representative"] = {"batches": len(rep), "examples": int(sum(len(next(iter(b.values()))) for b in rep)),
                                   "source": _rep_note(pd)}
    entry.update(_validate.check(pd, runner, "litert", quantize, ops=ops, timing=timing))
    if manifest:
        _update_manifest(out, model, name, source, entry, command)
    return entry


def _rep_note(pd):
    if pd.part == "encoder":
        return "training images" + (" with their one-hot labels" if len(pd.names) > 1 else "")
    if pd.part == "generator":
        return "prior N(0, I) samples"
    if pd.variational:
        return ("encoder posterior samples z_mean + exp(0.5 z_log_var) * eps and posterior means of training "
                "images, plus prior N(0, I) samples" + (", with one-hot labels" if len(pd.names) > 1 else ""))
    return "encoder codes of training images"


def to_saved_model(model_or_name, part="decoder", out=None, timing=True, manifest=True, command=None,
                   _resolved=None):
    """Export one part as a SavedModel directory `<out>/<part>_savedmodel/` and check it (report dict)."""
    model, name, source, pd = _resolved or _resolve(model_or_name, part)
    out = _default_out(name, source, out)
    path = out / f"{part}_savedmodel"
    _savedmodel.convert(pd.part_model, path)
    runner = SavedModelRunner(path, pd.names)
    entry = {"file": path.name, "path": str(path), "format": "savedmodel", "part": part, "quantize": "float32",
             "io": "float", "size_bytes": _savedmodel.dir_size(path), "signature": "serving_default",
             "inputs": pd.names}
    entry.update(_validate.check(pd, runner, "savedmodel", timing=timing))
    if manifest:
        _update_manifest(out, model, name, source, entry, command)
    return entry


def export_all(model_or_name, parts=("decoder",), formats=("litert",), quantize=("none",), io="float",
               out=None, timing=True, command=None, progress=None):
    """Every (part, format, quantization) combination; returns (out_dir, [reports])."""
    model, name, source = resolve_model(model_or_name)
    if parts == "all" or "all" in parts:
        parts = available_parts(model)
    out = _default_out(name, source, out)
    for q in quantize:
        if q not in QUANTIZE:
            raise ExportError(f"unknown quantize {q!r}; expected one of {', '.join(QUANTIZE)}")
    if io == "int8" and "litert" in formats and any(q != "int8" for q in quantize):
        raise ExportError("--io int8 needs --quantize int8")
    reports = []
    for part in parts:
        pd = PartData(model, part, name)  # raises for a missing part, naming the parts the model has
        resolved = (model, name, source, pd)
        if "savedmodel" in formats:
            if progress:
                progress(f"{name} {part} savedmodel")
            reports.append(to_saved_model(model, part, out, timing, command=command, _resolved=resolved))
        if "litert" in formats:
            for q in quantize:
                if progress:
                    progress(f"{name} {part} litert {q}" + (" io=int8" if io == "int8" else ""))
                reports.append(to_litert(model, part, q, io, out, timing, command=command, _resolved=resolved))
    return out, reports
