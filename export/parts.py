"""Which model, which parts, and which data: everything the exporter asks the zoo.

The exporter knows no family and no data set. A model's family says what its deployable parts are through its
`export_parts(model, data)` hook ({part: zoo.base.ExportPart}); the data comes from the model's preset
(`zoo.data.splits(registry.preset(name)["data"])`), or is None when it cannot be read, in which case the hook
falls back to what it can do without (synthetic inputs, no task metric).
"""

import dataclasses
from pathlib import Path
from typing import Any, Optional

import numpy as np

from zoo import data as zdata
from zoo import io as zio
from zoo import registry
from zoo.errors import DataUnavailable, ZooError


class ExportError(ZooError):
    """An export could not be made, loaded or checked; the message names the file or part."""


@dataclasses.dataclass
class Source:
    """A model to export and where it came from.

    name: what the exports are filed under (runs/NAME/exports); preset: the registered name whose data and
    family apply, or None; model_file: the .keras file it was loaded from (its sha256 goes into export.json),
    None for an in-memory model; shipped: loaded from saved_models/NAME by registered name."""
    model: Any
    name: str
    preset: Optional[str]
    model_file: Optional[Path]
    shipped: bool = False


def resolve(model_or_name):
    """A keras.Model, a registered name (the shipped weights) or a folder / .keras file -> Source."""
    import keras

    if isinstance(model_or_name, keras.Model):
        model = model_or_name
        return Source(model, model.name, model.name if model.name in registry.PRESETS else None, None)
    text = str(model_or_name)
    model_file = Path(registry.model_path(text))
    model = registry.load(text)
    if text in registry.PRESETS and not Path(text).exists():
        return Source(model, text, text, model_file, shipped=True)
    # A folder or file: the card names the preset it was trained from; the folder names the exports.
    card = model_file.parent / registry.CARD_FILE
    preset = None
    if card.is_file():
        try:
            preset = zio.read_json(card, "model card").get("name")
        except (ZooError, AttributeError):
            preset = None
    if preset not in registry.PRESETS:
        preset = model.name if model.name in registry.PRESETS else None
    folder_name = model_file.parent.name if model_file.name == registry.MODEL_FILE else model_file.stem
    return Source(model, folder_name or model.name, preset, model_file)


def family_module(source):
    try:
        return registry.family_of_model(source.model)
    except ZooError:
        if source.preset is None:
            raise ExportError(f"{source.name} ({type(source.model).__name__}) belongs to no registered family, "
                              "so nothing says what its exportable parts are") from None
        return registry.family(source.preset)


def family_name(source):
    module = family_module(source)
    return getattr(module, "FAMILY", module.__name__.rsplit(".", 1)[-1])


_DATA = {}


def data_for(source):
    """(splits or None, why None) for the source's preset data set; cached per data set."""
    if source.preset is None:
        return None, "the model names no registered preset, so no data set is known"
    key = registry.preset(source.preset).get("data")
    if key is None:
        return None, None  # a preset without a data set: its family's parts bring their own inputs
    if key not in _DATA:
        try:
            _DATA[key] = (zdata.splits(key), None)
        except DataUnavailable as e:
            _DATA[key] = (None, str(e))
    return _DATA[key]


def parts_of(source, data):
    """{part: ExportPart} from the family's export_parts hook."""
    hook = registry.hook(family_module(source), "export_parts")
    if hook is None:
        raise ExportError(f"{source.name}: its family ({family_name(source)}) defines no export_parts hook, "
                          "so it has no exportable parts")
    return hook(source.model, data)


def get_part(parts, part, name):
    if part not in parts:
        have = ", ".join(parts) or "no exportable parts"
        raise ExportError(f"{name} has no {part!r} part; it has: {have}")
    p = parts[part]
    input_names(p.model, part)
    output_names(p.model, part)
    return p


def input_names(part_model, part="part"):
    names = [t.name for t in part_model.inputs]
    if len(set(names)) != len(names):
        raise ExportError(f"the {part} part's inputs {names} are not uniquely named")
    return names


def output_names(part_model, part="part"):
    """The part's output names, in the order the Keras part returns them (not the alphabetical order the
    LiteRT and SavedModel signatures list them in)."""
    out = part_model.output
    if not isinstance(out, dict):
        raise ExportError(f"the {part} part returns {type(out).__name__}, not a dict of named outputs; an "
                          "export_parts hook must name every output (the names the signatures carry)")
    return list(out)


def keras_run(part_model, inputs, batch_size=512):
    """The Keras part on a list of input arrays by direct calls in chunks -> list of outputs in the part's order."""
    names = output_names(part_model)
    n = len(inputs[0])
    chunks = []
    for i in range(0, n, batch_size):
        args = [np.asarray(x[i:i + batch_size], np.float32) for x in inputs]
        out = part_model(args if len(args) > 1 else args[0], training=False)
        chunks.append([np.asarray(out[k]) for k in names])
    return [np.concatenate([c[k] for c in chunks], axis=0) for k in range(len(names))]
