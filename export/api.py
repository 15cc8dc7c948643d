"""The export API: to_litert, to_saved_model, export_all (see the package docstring)."""

import contextlib
import dataclasses
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Optional

from export import contract as _contract
from export import litert as _litert
from export import manifest as _manifest
from export import savedmodel as _savedmodel
from export import validate as _validate
from export.litert import LiteRTRunner, ops_of
from export.names import FORMATS, QUANTIZE, file_name
from export.parts import ExportError, data_for, family_name, get_part, input_names, output_names, parts_of, resolve
from export.savedmodel import SavedModelRunner
from zoo import cards as zcards, checks, registry
from zoo import io as zio

CALIBRATION_BATCH = 50


@dataclasses.dataclass
class Job:
    """One model ready to export: where it came from, its parts, its data and the output folder."""
    source: Any
    parts: dict
    data: Any
    data_note: Optional[str]
    out: Path
    source_sha256: Optional[str]

    def info(self):
        """The model-level fields of export.json."""
        src = self.source.model_file
        return {
            "family": family_name(self.source),
            "preset": self.source.preset,
            "parts": list(self.parts),
            "source": os.path.relpath(src, self.out) if src is not None else None,
            "source_sha256": self.source_sha256,
            "tolerances": {"max_abs_diff": _validate.MAX_ABS_RULE,
                           "quantized_metric_relative": {p: x.metric_bound for p, x in self.parts.items()}},
            **({"data_note": self.data_note} if self.data is None and self.data_note else {}),
        }


def output_folder(source, out=None, publish=False):
    """runs/NAME/exports by default; saved_models/NAME/exports only when publishing the shipped model."""
    if publish:
        if out is not None:
            raise ExportError("--publish writes into saved_models/NAME/exports; drop --out")
        if not source.shipped:
            raise ExportError("--publish exports a shipped model into its saved_models folder: give its registered "
                              f"name (saved_models/NAME/model.keras), not {source.model_file or 'a model object'}")
        return registry.saved_models_dir() / source.name / "exports"
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ExportError(f"--out {out} is a file; expected a folder")
        return out
    return registry.runs_dir() / source.name / "exports"


def prepare(model_or_name, out=None, publish=False):
    source = resolve(model_or_name)
    folder = output_folder(source, out, publish)
    _manifest.check_writable(folder, source.name)  # a corrupt export.json is refused before any work
    data, note = data_for(source)
    parts = parts_of(source, data)
    sha = zio.sha256(source.model_file) if source.model_file is not None else None
    return Job(source, parts, data, note, folder, sha)


def check_batch(batch):
    return None if batch is None else checks.count(batch, "batch", 1, checks.MAX_BATCH)


def calibration_set(job, name, part, n, batch):
    """int8 calibration batches ({input name: array}) from part.inputs(n, seed=0)."""
    if job.data is None and job.data_note is not None:
        raise ExportError(f"int8 calibration of {job.source.name}'s {name} needs its training data: {job.data_note}")
    arrays = part.inputs(n, 0)
    names = input_names(part.model, name)
    step = batch or CALIBRATION_BATCH
    # Integer inputs (word ids) are indices, not values to calibrate: they go in with their own dtype.
    return [{k: a[i:i + step] if a.dtype.kind in "iu" else a[i:i + step].astype("float32")
             for k, a in zip(names, arrays)}
            for i in range(0, len(arrays[0]) - step + 1 if batch else len(arrays[0]), step)]


@contextlib.contextmanager
def staged(path):
    """A temporary sibling of `path` to convert into and check; `commit` gives it `path`'s name. Whatever is left
    of it when the block ends (an error, a failed check) is removed, so a file that fails never replaces a good
    one."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    finally:
        _remove(tmp)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def put_in_place(tmp, path):
    """Give the checked `tmp` (a file or folder) the name `path`, keeping what was there until the manifest that
    records the new one is written: returns (undo, done); undo() puts the old one back (or removes the new one
    when there was none), done() drops the old one."""
    backup = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    had = path.exists() or path.is_symlink()
    try:
        if had and path.is_file() and not path.is_symlink():
            try:   # the old file stays readable under its name until the atomic replace
                os.link(path, backup)
            except OSError:
                shutil.copy2(path, backup)
        elif had:
            os.replace(path, backup)
        os.replace(tmp, path)
    except OSError as e:
        if had and backup.exists() and not path.exists():
            os.replace(backup, path)
        _remove(backup)
        raise ExportError(f"cannot put {path.name} in place in {path.parent}: {e.strerror or e}") from None

    def undo():
        if not (had and backup.is_file()):
            _remove(path)
        if had:
            os.replace(backup, path)

    def done():
        if had:
            _remove(backup)

    return undo, done


def commit(job, entry, tmp, path, manifest, command):
    """The checked file in place and its record in export.json, together: when the manifest cannot be written,
    the file is taken back out (the old one restored), so nothing unrecorded is left."""
    if manifest:
        _manifest.record(job.out, job.source, job.info(), entry, command, put_in_place=lambda: put_in_place(tmp, path))
    else:
        put_in_place(tmp, path)[1]()


def _entry(job, name, part, path, fmt, quantize, io, batch):
    return {"file": path.name, "format": fmt, "part": name, "quantize": "float32" if quantize == "none" else quantize,
            "io": io, "batch": batch, "source_sha256": job.source_sha256,
            **({"description": part.description} if part.description else {})}


def to_litert(model_or_name, part="decoder", quantize="int8", io="float", out=None, batch=None, publish=False,
              timing=True, representative_size=2000, manifest=True, command=None, job=None, target=None):
    """Convert one part to `<out>/<part>_<quantize>[_int8io][_bN].tflite`, check it and record it.

    Returns the report (also merged into <out>/export.json): file, size_bytes, sha256, inputs/outputs (with scale
    and zero point for int8 tensors), the input contract (export/contract.py), ops, max/mean abs diff vs Keras,
    metric, latency, checks and passed. The file takes its name only together with its record: when export.json
    cannot be written, it is taken back out and the one it replaced put back.

    target="micro" (int8 only): also TFLite Micro's C source and header beside the file and a "micro" record
    (arena bytes, ops, fully integer, parity with LiteRT's reference kernels, metric through TFLM): see
    export/micro.py. A part TFLM cannot run is refused in one line naming the op, before anything is written."""
    _litert.check_options(quantize, io)
    check_target(target, [quantize])
    batch = check_batch(batch)
    job = job or prepare(model_or_name, out, publish)
    p = get_part(job.parts, part, job.source.name)
    path = job.out / file_name(part, "litert", quantize, io, batch)
    rep = calibration_set(job, part, p, representative_size, batch) if quantize == "int8" else None
    sample = _validate.comparison_inputs(p)
    with staged(path) as tmp:
        _litert.convert(p.model, tmp, quantize=quantize, io=io, representative=rep, batch=batch)
        runner = LiteRTRunner(tmp, input_names(p.model), output_names(p.model), verify_manifest=False)
        entry = _entry(job, part, p, path, "litert", quantize, io, batch)
        entry.update({"size_bytes": tmp.stat().st_size, "sha256": zio.sha256(tmp), **runner.io_details()})
        entry["input"] = _contract.input_contract(p.model, sample, entry["inputs"])
        if rep is not None:
            entry["calibration"] = {"batches": len(rep), "inputs": "ExportPart.inputs(n, seed=0)",
                                    "examples": int(sum(len(next(iter(b.values()))) for b in rep))}
        entry.update(_validate.check(p, runner, "litert", quantize, ops=ops_of(tmp.read_bytes()), timing=timing,
                                     sample=sample))
        written = _micro(job, part, p, tmp, path, entry, runner) if target == "micro" else []
        try:
            commit(job, entry, tmp, path, manifest, command)
        except BaseException:
            for f in written:   # the C files go with the record of the .tflite they hold, or not at all
                _remove(f)
            raise
    return {**entry, "path": str(path)}


def check_target(target, quantize):
    if target not in (None, "micro"):
        raise ExportError(f"unknown target {target!r}; expected micro")
    if target == "micro" and any(q != "int8" for q in quantize):
        raise ExportError("--target micro needs --quantize int8 (TFLite Micro runs full-integer files)")


def _micro(job, name, part, tmp, path, entry, runner):
    """TFLite Micro's arena, parity and metric into entry["micro"] (and its check), then the C files."""
    from export import micro

    data = tmp.read_bytes()
    what = f"{job.source.name}'s {name} ({path.name})"
    arena = micro.measure_arena(data, what)
    record = micro.micro_record(data, part, name, runner, arena, entry.get("ops"))
    stem = path.name[:-len(".tflite")]
    record["source"], record["header"] = f"{stem}_model_data.cc", f"{stem}_model_data.h"
    entry["micro"] = record
    entry["checks"]["micro_parity"] = {"bound_steps": micro.MAX_STEPS, "max_steps": record["parity"]["max_steps"],
                                       "passed": record["passed"]}
    entry["passed"] = all(c["passed"] for c in entry["checks"].values())
    comment = [f"{job.source.name} {name}: {path.name} for TensorFlow Lite Micro (written by python -m export)",
               f"sha256 {entry['sha256']}, {len(data)} bytes",
               f"tensor arena: {arena} bytes (the smallest the TFLM interpreter allocated and invoked it with)"]
    return micro.write_c_files(data, path.parent, stem, f"{job.source.name}_{stem}", comment, arena)


def to_saved_model(model_or_name, part="decoder", out=None, batch=None, publish=False, timing=True, manifest=True,
                   command=None, job=None):
    """Export one part as a SavedModel directory `<out>/<part>_savedmodel[_bN]/`, check it and record it."""
    batch = check_batch(batch)
    job = job or prepare(model_or_name, out, publish)
    p = get_part(job.parts, part, job.source.name)
    path = job.out / file_name(part, "savedmodel", batch=batch)
    names_in, names_out = input_names(p.model), output_names(p.model)
    sample = _validate.comparison_inputs(p)
    with staged(path) as tmp:
        _savedmodel.convert(p.model, tmp, batch=batch)
        runner = SavedModelRunner(tmp, names_in, names_out)
        entry = _entry(job, part, p, path, "savedmodel", "none", "float", batch)
        entry.update({"size_bytes": _savedmodel.dir_size(tmp), "signature": "serving_default",
                      "inputs": [{"name": n} for n in names_in], "outputs": [{"name": n} for n in names_out]})
        entry["input"] = _contract.input_contract(p.model, sample, batch=batch)
        entry.update(_validate.check(p, runner, "savedmodel", timing=timing, sample=sample))
        commit(job, entry, tmp, path, manifest, command)
    return {**entry, "path": str(path)}


def export_all(model_or_name, parts=("decoder",), formats=("litert",), quantize=("none",), io="float", out=None,
               batch=None, publish=False, timing=True, command=None, progress=None, target=None):
    """Every (part, format, quantization) combination; returns (out folder, [reports]). Arguments and part names
    are checked before any conversion."""
    for f in formats:
        if f not in FORMATS:
            raise ExportError(f"unknown format {f!r}; expected one of {', '.join(FORMATS)}")
    for q in quantize:
        if q not in QUANTIZE:
            raise ExportError(f"unknown quantize {q!r}; expected one of {', '.join(QUANTIZE)}")
    if io == "int8" and "litert" in formats and any(q != "int8" for q in quantize):
        raise ExportError("--io int8 needs --quantize int8")
    if "litert" in formats:
        check_target(target, quantize)
    batch = check_batch(batch)
    job = prepare(model_or_name, out, publish)
    parts = list(job.parts) if parts == "all" or "all" in parts else list(parts)
    for part in parts:
        get_part(job.parts, part, job.source.name)
    if progress and publish:
        progress(f"publishing into {job.out} (the shipped exports)")
    reports = []
    for part in parts:
        if "savedmodel" in formats:
            if progress:
                progress(f"exporting {job.source.name} {part} savedmodel ...")
            reports.append(to_saved_model(None, part, batch=batch, timing=timing, command=command, job=job))
        if "litert" in formats:
            for q in quantize:
                if progress:
                    progress(f"exporting {job.source.name} {part} litert {q}" + (" io=int8" if io == "int8" else "")
                             + (f" batch={batch}" if batch else "") + (" target=micro" if target else "") + " ...")
                reports.append(to_litert(None, part, q, io, batch=batch, timing=timing, command=command, job=job,
                                         target=target))
    if publish and (Path(job.out).parent / zcards.CARD_FILE).is_file():   # the model card README lists its exports
        zcards.write_readme(Path(job.out).parent)
    return job.out, reports
