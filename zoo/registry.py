"""Names -> builders, presets and pretrained files, in the spirit of timm and keras-hub.

    zoo.list_models("*vae*")             registered names matching a pattern
    zoo.build("ae_mnist", latent_dim=8)  an untrained model from the preset's config, with overrides
    zoo.load("ae_mnist")                 the pretrained model from saved_models/ae_mnist/
    zoo.load("path/to/folder")           the same from any folder holding model.keras
    zoo.model_card("ae_mnist")           that model's card.json as a dict
"""

import difflib
import fnmatch
import inspect
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import keras

from zoo.errors import ZooError
from zoo.models import PRESETS

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
# Packages whose classes a model file may name. Anything else is refused before Keras deserializes it.
TRUSTED_MODULE_PREFIXES = ("keras", "zoo")


def saved_models_dir():
    """$ZOO_MODELS_DIR when set, else the repository's saved_models/ folder."""
    env = os.environ.get("ZOO_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "saved_models"


def list_models(pattern="*"):
    return sorted(n for n in PRESETS if fnmatch.fnmatch(n, pattern))


def _unknown(name):
    close = difflib.get_close_matches(str(name), PRESETS, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ZooError(f"unknown model {name!r}{hint} (known: {', '.join(list_models())})")


def preset(name):
    if name not in PRESETS:
        raise _unknown(name)
    return PRESETS[name]


def config_keys(cls):
    """Constructor arguments a model class accepts, up its class chain (subclasses pass **kwargs up)."""
    keys = {"name"}
    for klass in cls.__mro__:
        if klass in (keras.Model, keras.layers.Layer):
            break
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys |= {n for n, prm in inspect.signature(init).parameters.items()
                     if n != "self" and prm.kind not in (prm.VAR_KEYWORD, prm.VAR_POSITIONAL)}
    return keys


def build(name, **overrides):
    """An untrained model from the preset's config; keyword overrides replace config values."""
    p = preset(name)
    config = dict(p["config"])
    allowed = config_keys(p["class"])
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ZooError(f"{name}: unknown config keys {unknown}; expected some of {sorted(allowed)}")
    config.update(overrides)
    config.setdefault("name", name)
    return p["class"](**config)


create_model = build  # the timm spelling


def _model_dir(name_or_dir):
    path = Path(str(name_or_dir))
    if path.is_dir():
        return path
    if str(name_or_dir) in PRESETS:
        folder = saved_models_dir() / str(name_or_dir)
        if not (folder / MODEL_FILE).is_file():
            raise ZooError(f"no pretrained weights for {name_or_dir!r} at {folder}; "
                           f"train them with: python -m zoo train {name_or_dir}")
        return folder
    if path.suffix == ".keras" or os.sep in str(name_or_dir):
        raise ZooError(f"{name_or_dir} does not exist")
    raise _unknown(name_or_dir)


def _check_classes(config, path):
    """Refuse configs naming classes outside Keras and the zoo: a model file must not import other code."""
    if isinstance(config, dict):
        module = config.get("module")
        if isinstance(module, str) and "class_name" in config:
            if not module.split(".")[0] in TRUSTED_MODULE_PREFIXES:
                raise ZooError(f"{path} names class {config['class_name']!r} from module {module!r}; "
                               f"only keras and zoo classes are loaded")
        registered = config.get("registered_name")
        if isinstance(registered, str) and ">" in registered and not registered.startswith("zoo>"):
            raise ZooError(f"{path} names class {registered!r} outside the zoo package; refused")
        for v in config.values():
            _check_classes(v, path)
    elif isinstance(config, list):
        for v in config:
            _check_classes(v, path)


def load_model_file(path):
    """Load a .keras file safely: safe_mode=True, trusted classes only, clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ZooError(f"{path} is not a .keras archive (corrupt or truncated)")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ZooError(f"{path} is corrupt: member {bad} fails its checksum")
            config = json.loads(zf.read("config.json"))
    except ZooError:
        raise
    except Exception as e:
        raise ZooError(f"{path} is corrupt or truncated: {type(e).__name__}: {e}") from None
    _check_classes(config, path)
    import zoo.layers  # noqa: F401  (registers the zoo's serializable layers)

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as e:
        raise ZooError(f"{path} could not be loaded: {type(e).__name__}: {e}") from None


def load(name_or_dir):
    """The pretrained model for a registered name, or from a folder that holds model.keras."""
    return load_model_file(_model_dir(name_or_dir) / MODEL_FILE)


def from_preset(name_or_dir):
    return load(name_or_dir)


def model_card(name_or_dir):
    path = _model_dir(name_or_dir) / CARD_FILE
    if not path.is_file():
        raise ZooError(f"{path} does not exist")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ZooError(f"{path} is not valid JSON (corrupt or truncated): {e}") from None


def write_json_atomic(path, obj):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def inference_copy(model):
    """The same model rebuilt from its config with the same weights and no optimizer state: a pretrained
    file is for inference and fine-tuning, and Adam's moments would triple its size."""
    if getattr(model, "optimizer", None) is None:
        return model
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def swap_in_dir(tmp, folder):
    """Give the complete folder `tmp` the name `folder`: an existing one is moved aside first and removed
    after, so `folder` is always either the whole old content or the whole new one."""
    tmp, folder = Path(tmp), Path(folder)
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def save_model_dir(model, folder, card=None, extra_files=None):
    """Write model.keras, card.json and extra files to a temporary sibling folder, then swap it in.

    The old folder is moved aside before the new one takes its name and removed after, so at every
    instant `folder` is either the complete old model or the complete new one. Files already in the old
    folder that this save does not write (exports, say) are carried over.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        inference_copy(model).save(tmp / MODEL_FILE)
        if card is not None:
            write_json_atomic(tmp / CARD_FILE, card)
        for rel, writer in (extra_files or {}).items():
            writer(tmp / rel)
        if folder.exists():
            for item in folder.iterdir():
                if not (tmp / item.name).exists():
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        swap_in_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
