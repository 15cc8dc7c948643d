"""Names -> presets, models and pretrained files, in the spirit of timm and keras-hub.

    zoo.list_models("*vae*")                          registered names matching a pattern
    zoo.create_model("ae_mnist", latent_dim=8)         untrained, from the preset's config with overrides
    zoo.create_model("ae_mnist", pretrained=True)      the shipped weights
    zoo.load("ae_mnist" | "runs/ae_mnist" | "x.keras") a pretrained model by name, folder or file
    zoo.Autoencoder.from_preset("ae_mnist")            the same, checked to be of that class
    zoo.model_card("ae_mnist")                         that model's card.json as a dict

The registry knows no family: it reads each family's PRESETS (zoo.families) and the Keras classes
registered under the "zoo" package. It imports no TensorFlow itself: names, presets, paths and cards are read
without it (`zoo list`, `zoo info`), and building or loading a model imports the family, and TensorFlow with it,
then (quietly: zoo.startup).
"""

import difflib
import fnmatch
import inspect
import os
from pathlib import Path

from zoo import families, io
from zoo.errors import ZooError

MODEL_FILE, CARD_FILE = io.MODEL_FILE, io.CARD_FILE
PRESETS = families.PRESETS


def repo_dir():
    return Path(__file__).resolve().parent.parent


def saved_models_dir():
    """$ZOO_MODELS_DIR when set, else the repository's saved_models/ folder: the shipped weights."""
    env = os.environ.get("ZOO_MODELS_DIR")
    return Path(env) if env else repo_dir() / "saved_models"


def runs_dir():
    """$ZOO_RUNS_DIR when set, else runs/ beside saved_models/: where training writes by default."""
    env = os.environ.get("ZOO_RUNS_DIR")
    return Path(env) if env else repo_dir() / "runs"


def list_models(pattern="*"):
    return sorted(n for n in PRESETS if fnmatch.fnmatch(n, pattern))


def unknown(name):
    close = difflib.get_close_matches(str(name), PRESETS, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ZooError(f"unknown model {name!r}{hint} (known: {', '.join(list_models())})")


def describe(name):
    """A registered name's preset as its family declares it, without importing the family: "class" and "build"
    may be names. For listing and describing (`zoo list`, `zoo info`)."""
    if name not in PRESETS:
        raise unknown(name)
    return PRESETS[name]


def preset(name):
    """A registered name's preset with "class" (and "build") as objects: imports its family."""
    return families.resolve(describe(name))


def family(name):
    """The family module of a registered name (imported now if it waited)."""
    return families.module(describe(name)["family"])


def family_of_model(model):
    """The family module a model instance belongs to (by its class's `family`)."""
    name = getattr(type(model), "family", None)
    if name not in families.FAMILIES:
        raise ZooError(f"{type(model).__name__} belongs to no registered family")
    return families.FAMILIES[name]


def hook(module, name):
    return getattr(module, name, None)


def config_keys(cls):
    """Constructor arguments a model class accepts, up its class chain."""
    import keras

    from zoo import base

    keys = {"name"}
    for klass in cls.__mro__:
        if klass in (keras.Model, keras.layers.Layer, base.ZooModel):
            break
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys |= {n for n, p in inspect.signature(init).parameters.items()
                     if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return keys


def create_model(name, pretrained=False, **overrides):
    """A model by registered name: the shipped weights (pretrained=True), or untrained from the preset's config
    with keyword overrides. A preset that `requires` other models (a classifier's encoder) gets them loaded
    pretrained; override one by name, e.g. encoder="cae_mnist"."""
    p = describe(name)
    if pretrained:
        if overrides:
            raise ZooError("pretrained=True loads the shipped weights as they are; overrides need pretrained=False")
        return load(name)
    p = preset(name)
    import keras

    requires = {}
    for key, default in p.get("requires", {}).items():
        source = overrides.pop(key, default)
        requires[key] = source if isinstance(source, keras.Model) else load(source)
    allowed = config_keys(p["class"])
    unknown_keys = sorted(set(overrides) - allowed)
    if unknown_keys:
        raise ZooError(f"{name}: unknown config keys {unknown_keys}; expected some of "
                       f"{sorted(allowed | set(p.get('requires', {})))}")
    config = {**p["config"], **overrides}
    config.setdefault("name", name)
    try:
        if "build" in p:
            return p["build"](config, requires)
        return p["class"](**config)
    except ZooError:
        raise
    except (TypeError, ValueError) as e:
        raise ZooError(f"{name}: invalid config: {e}") from None


build = create_model


def _zoo_classes():
    """Every registered zoo class: a model file may hold any, so every family is imported first."""
    families.load_all()
    import keras

    return {k for k in keras.saving.get_custom_objects() if k.startswith("zoo>")}


def _parameter_count(config):
    import keras

    cls = keras.saving.get_registered_object(config.get("registered_name", ""))
    inner = config.get("config") or {}
    return cls.parameter_count(inner) if cls is not None and hasattr(cls, "parameter_count") else None


def model_path(name_or_path):
    """The model.keras a name, folder or file refers to."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".keras":
        if not path.is_file():
            raise ZooError(f"{path} does not exist")
        return path
    if not path.exists() and os.sep in text:
        io.recover(path)  # a folder whose swap was interrupted between its two renames comes back
    if path.is_dir():
        return path / MODEL_FILE
    if text in PRESETS:
        folder = saved_models_dir() / text
        io.recover(folder)
        if not saved_models_dir().is_dir():
            raise ZooError(f"no pretrained weights: {saved_models_dir()} does not exist (pip install . installs the "
                           "code, not the weights); set ZOO_MODELS_DIR to a checkout's saved_models folder")
        if not (folder / MODEL_FILE).is_file():
            raise ZooError(f"no pretrained weights for {text!r} at {folder}; train them with: zoo train {text}")
        return folder / MODEL_FILE
    if os.sep in text or path.exists():
        raise ZooError(f"{text} is neither a folder holding {MODEL_FILE} nor a .keras file")
    raise unknown(text)


def load(name_or_path):
    """A pretrained zoo model by registered name, folder or .keras file: compiled, safe_mode=True, only zoo
    and allow-listed Keras classes, sizes bounded before allocation, finite float weights. The file it came from
    is noted as `zoo_file`, so a model built on it (a classifier's encoder) can say which file that was."""
    path = model_path(name_or_path)
    model = io.load_model_file(path, _zoo_classes(), _parameter_count)
    model.zoo_file = str(path)
    return model


def from_preset(name_or_path):
    return load(name_or_path)


def model_card(name_or_path):
    """card.json beside a model: a JSON object whose "name" is a string (and whose "metrics", if any, is an
    object), so every reader can .get() from it; anything else is a ZooError naming the file."""
    path = Path(model_path(name_or_path)).parent / CARD_FILE
    card = io.read_json(path, "model card")
    expected = f'{path} is not a model card: expected a JSON object with a string "name"'
    if not isinstance(card, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(card), "a number")
        raise ZooError(f"{expected}, got {kind}")
    if "name" not in card:
        raise ZooError(f"{expected}, got an object without one")
    if not isinstance(card["name"], str):
        raise ZooError(f'{expected}, got "name": {str(card["name"])[:80]}')
    if not isinstance(card.get("metrics", {}), dict):
        raise ZooError(f'{path} is not a model card: its "metrics" must be a JSON object, got a '
                       f'{type(card["metrics"]).__name__}')
    return card


def save_model(model, folder, card=None, extra_files=None):
    """model.keras (compiled, without optimizer state), card.json and extra files ({name: fn(path)}), written
    to a temporary sibling folder and swapped in."""
    def write_model(path):
        inference_copy(model).save(path)

    writers = {MODEL_FILE: write_model}
    if card is not None:
        writers[CARD_FILE] = lambda path: io.write_json_atomic(path, card)
    writers.update(extra_files or {})
    return io.write_dir_atomic(folder, writers)


def inference_copy(model):
    """The same model rebuilt from its config with the same weights and a fresh optimizer: a pretrained file is
    for inference and fine-tuning, and Adam's moments would triple its size."""
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


io.set_preset_loader(load)
