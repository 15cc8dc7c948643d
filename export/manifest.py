"""export.json: one record per exported file (size, sha256, signature, errors against Keras, task metric,
latency), plus the model it came from and the sha256 of that model.keras.

A manifest that exists but cannot be read, or is not an export manifest, is refused with one line and never
rewritten: rewriting it would silently lose the records of the files beside it. Updates hold a lock on the
folder, so two exporters writing into one folder do not lose each other's records. A new file is put in place
under that lock just before the manifest that records it is written, and taken back out (the old one put back)
when that write fails, so the folder never holds a file its manifest does not describe.
"""

import contextlib
import datetime
import fcntl
import json
import os
from pathlib import Path

from export.names import MANIFEST, MANIFEST_VERSION
from export.parts import ExportError
from zoo import io as zio

MAX_MANIFEST_BYTES = 16 << 20


def read_manifest(path):
    """The manifest at `path` as a dict, None when there is none; ExportError naming it when it is unreadable,
    corrupt or not an export manifest."""
    path = Path(path)
    if not path.exists():
        return None
    what = f"{path} is not a readable export manifest"
    try:
        if not path.is_file():
            raise ExportError(f"{what}: it is not a file")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ExportError(f"{what}: {path.stat().st_size:,} bytes is too large")
        text = path.read_bytes().decode("utf-8")
        manifest = json.loads(text)
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"{what}: {e.strerror or e}; fix or move it aside (it is never rewritten)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ExportError(f"{what} (corrupt or truncated: {str(e).splitlines()[0][:120]}); fix or move it aside "
                          "(it is never rewritten)") from None
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict) or not all(isinstance(k, str) and isinstance(v, dict)
                                                  for k, v in artifacts.items()):
        raise ExportError(f"{what}: it has no 'artifacts' table of file records; fix or move it aside "
                          "(it is never rewritten)")
    return manifest


@contextlib.contextmanager
def locked(folder):
    folder.mkdir(parents=True, exist_ok=True)
    # The folder itself is the lock: no lock file left beside the exports.
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_writable(folder, name):
    """Refuse before any work when folder/export.json is unreadable or records another model."""
    manifest = read_manifest(Path(folder) / MANIFEST)
    if manifest is not None and manifest.get("model") not in (None, name):
        raise ExportError(f"{Path(folder) / MANIFEST} records exports of {manifest['model']!r}, not {name!r}; "
                          "choose another --out")
    return manifest


def record(folder, source, info, entry, command=None, put_in_place=None):
    """Merge one file's record into folder/export.json, atomically and under the lock.

    info: model-level fields (family, parts, source path and sha256, tolerances). put_in_place: called under the
    lock just before the manifest is written, to give the recorded file its name; it returns (undo, done), and
    undo() runs when the manifest cannot be written, so the folder never holds a file export.json does not
    record (or a record whose sha256 the file lacks)."""
    folder = Path(folder)
    path = folder / MANIFEST
    with locked(folder):
        manifest = check_writable(folder, source.name) or {}
        artifacts = dict(manifest.get("artifacts", {}))
        artifacts[entry["file"]] = entry
        commands = [c for c in manifest.get("commands", []) if c != command] + ([command] if command else [])
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "model": source.name,
            **info,
            "versions": zio.versions(),
            "updated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "artifacts": dict(sorted(artifacts.items())),
            **({"commands": commands} if commands else {}),
        }
        undo, done = put_in_place() if put_in_place is not None else (None, None)
        try:
            zio.write_json_atomic(path, manifest)
        except BaseException as e:
            if undo is not None:
                undo()
            if not isinstance(e, Exception):
                raise
            reason = (e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[0]
                      if str(e).strip() else type(e).__name__)
            kept = (f"; {entry['file']} was taken back out (the previous one, if any, is back), so nothing "
                    "unrecorded is left" if undo is not None else "")
            raise ExportError(f"cannot write {path}: {reason}{kept}") from None
        if done is not None:
            done()
    return path
