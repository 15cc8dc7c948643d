"""Finds the families: every module or package in this folder, plus any named in $ZOO_FAMILIES
(comma-separated importable modules), plus any passed to `register`. Adding a family edits no file here.

A family module holds its Keras classes and `PRESETS = {name: {"class", "config", "data", "train",
"description", optional "requires" and "build"}}`, and may define the hooks `train(model, data, recipe,
fit)`, `pictures(model, data)`, `preview(model, data)`, `card_metrics(model, data)` and
`export_parts(model, data)`.
"""

import importlib
import os
import pkgutil

FAMILIES = {}     # family name -> module
PRESETS = {}      # preset name -> preset dict, with "family" set to the family's name


def family_name(module):
    return getattr(module, "FAMILY", module.__name__.rsplit(".", 1)[-1])


def register(module):
    """Add a family module's presets; a preset name may belong to one family only."""
    name = family_name(module)
    presets = getattr(module, "PRESETS", {})
    clash = sorted(n for n in presets if n in PRESETS and PRESETS[n]["family"] != name)
    if clash:
        raise RuntimeError(f"preset names registered by two families: {clash}")
    FAMILIES[name] = module
    for preset_name, preset in presets.items():
        PRESETS[preset_name] = {**preset, "family": name}
    return module


def discover():
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            register(importlib.import_module(f"{__name__}.{info.name}"))
    for extra in filter(None, (s.strip() for s in os.environ.get("ZOO_FAMILIES", "").split(","))):
        register(importlib.import_module(extra))


discover()
