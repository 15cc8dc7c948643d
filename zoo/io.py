"""Files: atomic writes and folder swaps, safe loading of .keras files, cards, versions.

Nothing already saved is lost or half-written: every write goes to a temporary sibling first and is then
renamed into place. A folder is replaced by an atomic exchange (Linux renameat2 RENAME_EXCHANGE), so at every
instant NAME/ is either the complete old folder or the complete new one; where the exchange is unsupported,
two renames are used and a leftover of an interrupted swap is recovered by `recover(folder)`.
"""

import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
import zipfile
from importlib import metadata
from io import BytesIO
from pathlib import Path

import numpy as np

from zoo.checks import MAX_PARAMETERS
from zoo.errors import ZooError

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"

# zoo.registry sets this when it is imported (so does `import zoo`, and with it every `import zoo.anything`):
# families cannot import the registry, yet Class.from_preset must reach it.
_PRESET_LOADER = None


def set_preset_loader(loader):
    global _PRESET_LOADER
    _PRESET_LOADER = loader


def load_preset(name_or_dir):
    """The pretrained model for a registered name or a folder, through the registry's loader."""
    if _PRESET_LOADER is None:
        raise ZooError("presets are found through zoo.registry: import zoo first")
    return _PRESET_LOADER(name_or_dir)
MAX_CONFIG_BYTES = 1 << 20        # a zoo model's config.json is a few kB
# A .keras archive holds 3 members (config.json, metadata.json, model.weights.h5); the largest shipped one
# inflates to ~11 MB. Its members may inflate to at most the float32 weights of a model at the parameter bound
# (4 bytes x MAX_PARAMETERS = 200 MB) plus 64 MiB for the config and HDF5's overhead: about 267 MB, 20 times the
# largest shipped model yet far from the gigabytes a zip bomb of a few MB declares. Its member count is bounded
# twice: the zip directory's size, read from the end record before zipfile parses one entry (a directory entry
# is >= 46 bytes, so 64 KiB is >= 1,400 short names), then the parsed count itself.
MAX_ARCHIVE_MEMBERS = 64
MAX_ARCHIVE_DIRECTORY_BYTES = 1 << 16
MAX_ARCHIVE_BYTES = 4 * MAX_PARAMETERS + (64 << 20)
STALE_SECONDS = 3600              # temporaries older than this belong to a dead process


# -- permissions and atomic files ---------------------------------------------------------------------------
def umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path):
    """mkstemp and mkdtemp create 0600 / 0700; published files get what the umask gives ordinary files."""
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask())


def write_bytes_atomic(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_json_atomic(path, obj):
    return write_bytes_atomic(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def read_json(path, what="file"):
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path} does not exist")
    if path.stat().st_size > MAX_CONFIG_BYTES * 16:
        raise ZooError(f"{path} is too large for a {what} ({path.stat().st_size:,} bytes)")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ZooError(f"{path} is not valid JSON (corrupt or truncated): {e}") from None
    except RecursionError:
        raise ZooError(f"{path} is not a {what}: its JSON is nested too deeply") from None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- folder swaps --------------------------------------------------------------------------------------------
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a, b):
    """Atomically exchange two paths (renameat2 RENAME_EXCHANGE). False where the system lacks it."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _old_name(folder):
    return folder.with_name(f".{folder.name}.old")


def recover(folder):
    """Finish or undo an interrupted swap of `folder`, and remove stale temporaries beside it."""
    folder = Path(folder)
    old = _old_name(folder)
    if not folder.exists() and old.exists():
        os.replace(old, folder)   # killed between the two renames: the old folder comes back
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
    clean_stale(folder.parent, prefix=f".{folder.name}.tmp-")


def clean_stale(parent, prefix=".", max_age=STALE_SECONDS):
    """Remove temporaries named PREFIX* older than max_age seconds (a killed writer's leftovers)."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    removed = []
    now = time.time()
    for item in parent.iterdir():
        if item.name.startswith(prefix) and ".tmp-" in item.name:
            try:
                if now - item.lstat().st_mtime > max_age:
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
                    removed.append(item)
            except FileNotFoundError:
                pass
    return removed


def swap_in_dir(tmp, folder):
    """Give the complete folder `tmp` the name `folder`; the old content, if any, is removed after."""
    tmp, folder = Path(tmp), Path(folder)
    _publish_mode(tmp)
    if folder.exists():
        if _exchange(tmp, folder):
            shutil.rmtree(tmp, ignore_errors=True)   # tmp now holds the old content
            return folder
        old = _old_name(folder)
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def write_dir_atomic(folder, writers, keep_existing=True):
    """Write a folder through `writers` ({relative name: fn(path)}) into a temporary sibling, then swap it in.

    With keep_existing, files of the old folder that this write does not produce (exports, say) are carried
    over, so a re-save never loses them."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        for rel, writer in writers.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            writer(tmp / rel)
        if keep_existing and folder.is_dir():
            for item in folder.iterdir():
                if not (tmp / item.name).exists():
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        for path in tmp.rglob("*"):
            _publish_mode(path)
        swap_in_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


# -- versions ------------------------------------------------------------------------------------------------
def versions():
    """Library versions for cards and export manifests, read from package metadata (no heavy imports)."""
    out = {"python": platform.python_version()}
    for key, dist in (("tensorflow", "tensorflow"), ("keras", "keras"),
                      ("tensorflow_probability", "tensorflow-probability"), ("numpy", "numpy"),
                      ("ai_edge_litert", "ai-edge-litert")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


# -- safe loading of .keras files ----------------------------------------------------------------------------
# Exact Keras classes a zoo model file may name (module prefix "keras"), and the activation functions it may
# refer to by name. Anything else, zoo classes that are not registered included, is refused before Keras
# deserializes a single object.
ALLOWED_KERAS_CLASSES = frozenset({
    "Functional", "Model", "Sequential", "InputLayer", "Dense", "Activation", "Dropout", "Concatenate",
    "BatchNormalization", "Flatten", "Reshape", "Embedding", "Conv2D", "Conv2DTranspose", "LeakyReLU",
    "ReLU", "Softmax", "SimpleRNN", "LSTM", "GRU", "RNN", "Add", "Multiply", "LayerNormalization",
    "DTypePolicy", "FloatDTypePolicy", "Adam", "SGD", "RMSprop", "AdamW", "CosineDecay", "ExponentialDecay",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Zeros", "Ones", "RandomNormal", "RandomUniform",
    "Orthogonal", "Constant", "SparseCategoricalCrossentropy", "SparseCategoricalAccuracy",
    "CategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError", "Mean", "UpSampling2D", "Dot",
})
# Entries of a functional model's graph that name no class (a tensor reference, a tuple of arguments).
KERAS_MARKERS = frozenset({"__keras_tensor__", "__tuple__"})
ALLOWED_FUNCTIONS = frozenset({"relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "gelu",
                               "softplus", "leaky_relu", "silu", "swish", "exponential", "hard_sigmoid"})


def check_allowed(config, path, zoo_classes):
    """Walk a model config and refuse any class or function outside the exact allow-list."""
    if isinstance(config, dict):
        cls = config.get("class_name")
        module = config.get("module")
        registered = config.get("registered_name")
        # Keras resolves a bare {"class_name", "config"} without a module too, so that counts as an object.
        if isinstance(cls, str) and ("module" in config or "registered_name" in config or "config" in config) \
                and cls not in KERAS_MARKERS:
            if cls == "function" or registered == "function":
                name = config.get("config")
                if not (isinstance(module, str) and module.startswith("keras") and name in ALLOWED_FUNCTIONS):
                    raise ZooError(f"{path} refers to function {module}.{name}; only Keras activations "
                                   f"({', '.join(sorted(ALLOWED_FUNCTIONS))}) are loaded")
            elif isinstance(registered, str) and registered.startswith("zoo>"):
                if registered not in zoo_classes:
                    raise ZooError(f"{path} names {registered!r}, which is not a registered zoo class")
                import keras

                # exact: the registered name, class and module of one zoo class, never a mix. The module is the
                # registered class's own, which for a family added through $ZOO_FAMILIES lies outside zoo.
                home = getattr(keras.saving.get_registered_object(registered), "__module__", None)
                if registered != f"zoo>{cls}" or module != home:
                    raise ZooError(f"{path} names {registered!r} as class {cls!r} from module {module!r}; "
                                   "refused")
            elif module is None or not (module == "keras" or module.startswith("keras.")) \
                    or cls not in ALLOWED_KERAS_CLASSES:
                raise ZooError(f"{path} names class {cls!r} from module {module!r}, which is not on the "
                               "zoo's allow-list of Keras and zoo classes; refused")
        for value in config.values():
            check_allowed(value, path, zoo_classes)
    elif isinstance(config, list):
        for value in config:
            check_allowed(value, path, zoo_classes)


def _directory_bytes(path):
    """The size of a zip's central directory as its end record declares it, read without parsing the directory
    (zipfile reads that many bytes entry by entry); None when no end record is found."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        f.seek(max(0, end - (22 + 0xFFFF)))   # the end record is 22 bytes and a comment of at most 64 KiB
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    return int.from_bytes(tail[at + 12:at + 16], "little") if at >= 0 and len(tail) - at >= 22 else None


def read_archive_config(path):
    """config.json of a .keras archive, with its size, the archive's member count and the total size its
    members inflate to bounded from the zip directory before anything is read or extracted."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ZooError(f"{path} is not a .keras archive (corrupt or truncated)")
    directory = _directory_bytes(path)
    if directory is not None and directory > MAX_ARCHIVE_DIRECTORY_BYTES:
        raise ZooError(f"{path}: its zip directory is {directory:,} bytes (limit {MAX_ARCHIVE_DIRECTORY_BYTES:,}), "
                       f"more members than a model archive holds (at most {MAX_ARCHIVE_MEMBERS}); refused")
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise ZooError(f"{path} has {len(members):,} members; a model archive holds at most "
                               f"{MAX_ARCHIVE_MEMBERS}; refused")
            total = sum(i.file_size for i in members)
            if total > MAX_ARCHIVE_BYTES:
                raise ZooError(f"{path}: its members inflate to {total:,} bytes, above the limit of "
                               f"{MAX_ARCHIVE_BYTES:,}; refused before extracting anything")
            infos = {i.filename: i for i in members}
            if "config.json" not in infos:
                raise ZooError(f"{path} has no config.json; it is not a Keras model archive")
            if infos["config.json"].file_size > MAX_CONFIG_BYTES:
                raise ZooError(f"{path}: config.json is too large (limit {MAX_CONFIG_BYTES:,} bytes for the "
                               "config); refused")
            bad = zf.testzip()
            if bad is not None:
                raise ZooError(f"{path} is corrupt: member {bad} fails its checksum")
            return json.loads(zf.read("config.json"))
    except ZooError:
        raise
    except Exception as e:
        raise ZooError(f"{path} is corrupt or truncated: {type(e).__name__}: {e}") from None


def load_model_file(path, zoo_classes, parameter_count=None):
    """A zoo model from a .keras file: safe_mode=True, exact allow-list, bounded sizes, finite float weights.

    zoo_classes: the registered names ("zoo>Class") a file may use. parameter_count(config) -> int estimates
    the parameters the top-level config implies, so a config asking for billions is refused before anything
    is allocated.
    """
    import keras

    path = Path(path)
    config = read_archive_config(path)
    top = config.get("registered_name") if isinstance(config, dict) else None
    if not isinstance(top, str) or top not in zoo_classes:
        what = top or (config.get("class_name") if isinstance(config, dict) else type(config).__name__)
        raise ZooError(f"{path} holds a {what!r}, not a zoo model; zoo.load reads models saved by the zoo "
                       "(use keras.saving.load_model for other Keras files)")
    check_allowed(config, path, zoo_classes)
    if parameter_count is not None:
        try:
            n = parameter_count(config)
        except ZooError as e:
            raise ZooError(f"{path}: {e}") from None
        except (TypeError, ValueError, OverflowError, AttributeError) as e:
            # sizes of the wrong type (hidden_units: 5, latent_dim: "x", input_dim: 1e400)
            raise ZooError(f"{path}: its config is malformed ({type(e).__name__}: {e}); refused") from None
        if n is not None and n > MAX_PARAMETERS:
            raise ZooError(f"{path}: its config implies {n:,} parameters, above the limit of "
                           f"{MAX_PARAMETERS:,}; refused before allocating anything")
        check_weights_file(path, n)
    else:
        check_weights_file(path)
    try:
        with warnings.catch_warnings():
            # the file holds no optimizer state on purpose (see registry.inference_copy)
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(path, safe_mode=True, compile=True)
    except ZooError as e:
        raise ZooError(f"{path}: {e}") from None
    except Exception as e:
        raise ZooError(f"{path} could not be loaded: {_keras_cause(e)}") from None
    check_weights(model, path)
    return model


def _keras_cause(error):
    """One line saying what Keras found wrong. Its loading failure begins "A total of N objects could not be
    loaded. Example error message for object <Dense ...>:" and puts the cause on the lines after, so the first
    line alone would hide it."""
    text = str(error)
    head, sep, rest = text.partition("Example error message for object ")
    if sep:
        what, _, detail = rest.partition(":\n")
        cause = " ".join(line.strip() for line in detail.strip().split("\n\n")[0].splitlines() if line.strip())
        return f"{type(error).__name__}: the weights do not fit {what.strip()}: {cause[:400]}"
    return f"{type(error).__name__}: {text.strip().splitlines()[0][:300] if text.strip() else ''}"


WEIGHTS_MEMBER = "model.weights.h5"
WEIGHT_KINDS = "fiu"   # floats, and the integer counters and seed states Keras saves beside them


def check_weights_file(path, parameters=None):
    """Read the header of every dataset in a .keras archive's model.weights.h5, never its values, and refuse a
    dataset Keras would allocate more for than the model can hold, before Keras reads any.

    Keras reads a whole dataset as declared before comparing its shape with the variable it is meant for, so a
    kernel declared (1, 10^9) in a chunked dataset that was never written (a few bytes on disk) costs gigabytes.
    Two bounds stop that: no dataset may hold more values than the config implies parameters in all (or the
    global limit where a class gives no estimate), and every dataset must store all the bytes its shape declares
    (Keras writes weights contiguously and uncompressed), so what is read is bounded by the archive's own,
    already bounded, size. Shapes that pass but fit no variable are left to Keras (a small read), whose message
    _keras_cause keeps on one line."""
    import h5py

    path = Path(path)
    limit = min(parameters, MAX_PARAMETERS) if parameters is not None else MAX_PARAMETERS
    try:
        with zipfile.ZipFile(path) as zf:
            if WEIGHTS_MEMBER not in zf.namelist():
                return   # Keras says what is missing
            # Bounded by MAX_ARCHIVE_BYTES (read_archive_config); Keras holds the same bytes in memory to load them.
            blob = zf.read(WEIGHTS_MEMBER)
    except Exception as e:
        raise ZooError(f"{path} is corrupt or truncated: {type(e).__name__}: {e}") from None
    found = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and not found:
            problem = _dataset_problem(name, item, limit, parameters is not None)
            if problem:
                found.append(problem)

    try:
        with h5py.File(BytesIO(blob), "r") as f:
            f.visititems(visit)
    except Exception as e:
        raise ZooError(f"{path}: {WEIGHTS_MEMBER} is not a readable HDF5 file ({type(e).__name__}: "
                       f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    if found:
        raise ZooError(f"{path}: {WEIGHTS_MEMBER} dataset {found[0]}; refused before reading it")


def _dataset_problem(name, dataset, limit, from_config):
    """What is wrong with one weights dataset, from its header alone; None when nothing is."""
    shape, dtype = tuple(int(d) for d in (dataset.shape or ())), dataset.dtype
    declared = f"{name} declares shape {shape} {dtype}"
    if dataset.is_virtual or dtype.kind not in WEIGHT_KINDS or dtype.itemsize > 8:
        return f"{declared}; expected a plain array of numbers (float or integer, at most 8 bytes each)"
    values = int(np.prod(shape, dtype=object))
    if values > limit:
        what = (f"the {limit:,} parameters the model's config implies in all" if from_config else
                f"the limit of {limit:,} parameters")
        return f"{declared} ({values:,} values); expected at most {what}"
    stored, needed = dataset.id.get_storage_size(), values * dtype.itemsize
    if stored < needed:
        return (f"{declared} ({needed:,} bytes) but stores {stored:,}; expected every value written, as Keras "
                "writes weights (contiguous, uncompressed)")
    return None


def check_weights(model, path):
    for v in model.weights:
        dtype = np.dtype(v.dtype)
        if not np.issubdtype(dtype, np.floating):
            raise ZooError(f"{path}: weight {v.path} has dtype {dtype}; zoo weights are floating point")
        if not np.all(np.isfinite(np.asarray(v))):
            raise ZooError(f"{path}: weight {v.path} contains NaN or Inf; the file is corrupt or from a "
                           "diverged run")
