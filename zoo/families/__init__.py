"""Finds the families: every module or package in this folder, plus any named in $ZOO_FAMILIES
(comma-separated importable modules), plus any passed to `register`. Adding a family edits no file here.

A family module holds its Keras classes and may define the hooks `train(model, data, recipe, fit)`,
`pictures(model, data)`, `preview(model, data)`, `card_metrics(model, data)` and `export_parts(model, data)`, and
`COMMANDS = {command: {"arguments": fn(parser), "run": fn(model, args, data)}}`.

Its presets, `PRESETS = {name: {"class", "config", "data", "train", "description", optional "requires" and
"build"}}`, sit beside it in NAME_presets.py (keras-hub's layout) with "class" and "build" as names of the family
module's attributes, and `COMMANDS = {command: help}`. Discovery imports only those plain files, so listing and
describing models (`zoo list`, `zoo info`, `zoo --help`) starts no TensorFlow; the family module itself is imported
the first time one of its models is built or loaded (`module(name)`). A family without a presets file (one named in
$ZOO_FAMILIES, or a test's) is imported at once and keeps its PRESETS and COMMANDS in the module, with classes as
objects. A family that fails to import is reported by name (`BROKEN`) and the others still work.
"""

import importlib
import importlib.util
import os
import pkgutil

from zoo.errors import ZooError
from zoo.startup import import_tensorflow_quietly

PRESETS_SUFFIX = "_presets"
FAMILIES = {}     # family name -> its imported module
PRESETS = {}      # preset name -> preset dict, with "family" set to the family's name
COMMAND_HELP = {}  # command -> {family name: help}
LAZY = {}         # family name -> module path, imported by module(name) when first needed
BROKEN = {}       # family name -> why it could not be imported


def family_name(module):
    return getattr(module, "FAMILY", module.__name__.rsplit(".", 1)[-1])


def _add_presets(name, presets, commands):
    clash = sorted(n for n in presets if n in PRESETS and PRESETS[n]["family"] != name)
    if clash:
        raise RuntimeError(f"preset names registered by two families: {clash}")
    for preset_name, preset in presets.items():
        PRESETS[preset_name] = {**preset, "family": name}
    for command, spec in commands.items():
        COMMAND_HELP.setdefault(command, {})[name] = spec if isinstance(spec, str) else spec.get("help", "")


def register(module):
    """Add an imported family module's presets (classes as objects); a preset name may belong to one family only."""
    name = family_name(module)
    _add_presets(name, getattr(module, "PRESETS", {}), getattr(module, "COMMANDS", {}))
    FAMILIES[name] = module
    return module


def register_lazy(name, module_path, presets_module):
    """Add a family's presets from its plain NAME_presets module; the family module waits until it is needed."""
    _add_presets(name, getattr(presets_module, "PRESETS", {}), getattr(presets_module, "COMMANDS", {}))
    LAZY[name] = module_path


def module(name):
    """The family's module, imported now if it waited; a family that fails to import is a one-line ZooError."""
    if name in FAMILIES:
        return FAMILIES[name]
    if name not in LAZY:
        raise ZooError(f"no family named {name!r}" + (f" ({BROKEN[name]})" if name in BROKEN else ""))
    import_tensorflow_quietly()
    try:
        loaded = importlib.import_module(LAZY[name])
    except Exception as e:  # noqa: BLE001 - any failure at import: the family is broken, not the zoo
        BROKEN[name] = f"its module {LAZY[name]} failed to import: {type(e).__name__}: {e}"
        raise ZooError(f"family {name}: {BROKEN[name]}") from e
    FAMILIES[name] = loaded
    return loaded


def load_all():
    """Import every family that waits (a model file may hold any zoo class); the broken ones are skipped, named in
    BROKEN."""
    for name in list(LAZY):
        try:
            module(name)
        except ZooError:
            pass
    return dict(FAMILIES)


def resolve(preset):
    """A preset with "class" and "build" as objects, importing its family if it waited."""
    if not isinstance(preset.get("class"), str) and not isinstance(preset.get("build"), str):
        return preset
    home = module(preset["family"])
    resolved = dict(preset)
    for key in ("class", "build"):
        if isinstance(resolved.get(key), str):
            try:
                resolved[key] = getattr(home, resolved[key])
            except AttributeError:
                raise ZooError(f"family {preset['family']}: its presets name {key} {resolved[key]!r}, which "
                               f"{home.__name__} does not define") from None
    return resolved


def _try(what, name, fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - one broken family must not take the others down
        BROKEN[name] = f"{what} failed: {type(e).__name__}: {e}"
        return None


def discover():
    names = {info.name for info in pkgutil.iter_modules(__path__)}
    for name in sorted(names):
        if name.startswith("_") or name.endswith(PRESETS_SUFFIX):
            continue
        path = f"{__name__}.{name}"
        if name + PRESETS_SUFFIX in names:
            presets = _try("importing its presets", name, lambda: importlib.import_module(path + PRESETS_SUFFIX))
            if presets is not None:
                register_lazy(name, path, presets)
        else:
            _try("importing it", name, lambda: _register_now(path))
    for extra in filter(None, (s.strip() for s in os.environ.get("ZOO_FAMILIES", "").split(","))):
        presets = _try("finding its presets", extra, lambda: importlib.util.find_spec(extra + PRESETS_SUFFIX))
        if presets is not None:
            loaded = _try("importing its presets", extra, lambda: importlib.import_module(extra + PRESETS_SUFFIX))
            if loaded is not None:
                register_lazy(extra.rsplit(".", 1)[-1], extra, loaded)
        elif _try("finding it", extra, lambda: importlib.util.find_spec(extra)) is None:
            BROKEN.setdefault(extra, "no module of that name (from $ZOO_FAMILIES)")
        else:
            _try("importing it (from $ZOO_FAMILIES)", extra, lambda: _register_now(extra))


def _register_now(path):
    import_tensorflow_quietly()   # a family module without a presets file is imported now, TensorFlow with it
    return register(importlib.import_module(path))


discover()
