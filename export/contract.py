"""The input contract export.json records per file, under "input": for each input tensor, in the Keras part's
order, what a device must feed and how to get there from raw data.

    {"name": "image", "dtype": "int8", "shape": [-1, 784], "keras_dtype": "float32", "kind": "image",
     "range": [0, 1], "scale": 0.003921568859368563, "zero_point": -128, "quantized_range": [0.0, 1.0],
     "from_raw": "uint8 pixels p (0..255), 784 per row: x = p / 255; then q = clip(round(x / 0.00392157) - 128,
                  -128, 127) as int8",
     "observed": [0, 1]}

dtype and shape are the file's tensor (-1: any batch size); range is what the Keras part expects of x before any
quantization ([lo, hi], inclusive; null for an open end); scale and zero_point come with a quantized (int8)
input; quantized_range is what that int8 tensor can represent (values outside are clipped); observed is the
range of the part's own comparison inputs (ExportPart.inputs), for information.

The exporter knows no family, so the kind is read from what every family shares:
- an integer input is token ids, in [0, V) where V is the smallest vocabulary of the part's Embedding layers;
- an input named "image" takes the zoo's image rows (zoo/layers/image.py): floats in [0, 1], uint8 pixels / 255;
- a float input whose comparison rows are all one-hot (0/1, one 1 per row) takes one-hot rows, in [0, 1];
- anything else (codes, observations, recurrent state, a perceptron's inputs) takes float32 values as they are,
  with no range the model itself sets.
A device checks its inputs against the range before quantizing (export/examples/device_checks.py does).
"""

import numpy as np

IMAGE_INPUT = "image"
QUANTIZED = ("int8", "uint8", "int16")


def _layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        if getattr(layer, "layers", None):
            yield from _layers(layer)


def vocabulary(part_model):
    """The smallest input_dim of the part's Embedding layers, None without one."""
    import keras

    sizes = [int(layer.input_dim) for layer in _layers(part_model) if isinstance(layer, keras.layers.Embedding)]
    return min(sizes) if sizes else None


def _one_hot(a):
    return (a.ndim == 2 and a.shape[1] > 1 and a.size > 0 and bool(np.all((a == 0) | (a == 1)))
            and bool(np.all(a.sum(axis=1) == 1)))


def _number(v):
    return None if v is None else (int(v) if float(v).is_integer() and abs(v) < 2 ** 53 else float(v))


def keras_side(tensor, sample, part_model):
    """kind, range and from_raw of one Keras input, from its dtype, name and the part's own inputs."""
    dtype = np.dtype(str(tensor.dtype))
    a = np.asarray(sample)
    width = int(np.prod([d for d in tensor.shape[1:] if d is not None])) if len(tensor.shape) > 1 else 1
    if dtype.kind in "iu":
        vocab = vocabulary(part_model)
        return {"kind": "ids", "range": [0, None if vocab is None else vocab - 1],
                "from_raw": (f"integer ids in [0, {vocab})" if vocab else "non-negative integer ids")
                + f" as {dtype.name}, unchanged"}
    inside = a.size == 0 or (float(a.min()) >= 0 and float(a.max()) <= 1)
    if tensor.name == IMAGE_INPUT and inside:
        return {"kind": "image", "range": [0.0, 1.0],
                "from_raw": f"uint8 pixels p (0..255), {width} per row: x = p / 255"}
    if _one_hot(a):
        return {"kind": "one_hot", "range": [0.0, 1.0],
                "from_raw": f"class c in [0, {width}): {width} zeros with a 1 at position c"}
    return {"kind": "values", "range": [None, None],
            "from_raw": "float32 values as the model takes them (no range or scaling of their own)"}


def input_contract(part_model, sample, file_inputs=None, batch=None):
    """The "input" list for one file of `part_model`: sample is the part's own inputs (a list of arrays in the
    Keras input order); file_inputs the file's tensors ({"name", "dtype", "shape", "scale", "zero_point"} as
    LiteRTRunner.io_details lists them), None for a SavedModel, which takes what Keras takes (float32, the batch
    dimension fixed or not)."""
    tensors = {t["name"]: t for t in (file_inputs or [])}
    out = []
    for tensor, a in zip(part_model.inputs, sample):
        keras_dtype = np.dtype(str(tensor.dtype)).name
        item = {"name": tensor.name}
        if tensor.name in tensors:
            t = tensors[tensor.name]
            item.update({"dtype": t["dtype"], "shape": list(t["shape"])})
        else:
            shape = [batch or -1] + [-1 if d is None else int(d) for d in tensor.shape[1:]]
            item.update({"dtype": "float32" if keras_dtype.startswith("float") else keras_dtype, "shape": shape})
        item["keras_dtype"] = keras_dtype
        item.update(keras_side(tensor, a, part_model))
        if item["dtype"] in QUANTIZED and tensor.name in tensors and "scale" in tensors[tensor.name]:
            scale, zero = float(tensors[tensor.name]["scale"]), int(tensors[tensor.name]["zero_point"])
            info = np.iinfo(item["dtype"])
            item.update({"scale": scale, "zero_point": zero,
                         "quantized_range": [float(f"{scale * (q - zero):.7g}") for q in (info.min, info.max)]})
            item["from_raw"] += (f"; then q = clip(round(x / {scale:.6g}) {'-' if zero < 0 else '+'} {abs(zero)}, "
                                 f"{info.min}, {info.max}) as {item['dtype']}")
        arr = np.asarray(a)
        item["observed"] = ([_number(arr.min()), _number(arr.max())] if arr.size else None)
        item["range"] = [_number(v) for v in item["range"]]
        out.append(item)
    return out
