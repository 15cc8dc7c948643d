"""zoo: a TensorFlow/Keras model zoo of the classic neural-network families.

    import zoo
    zoo.list_models("*vae*")
    model = zoo.load("ae_mnist")                    # pretrained, compiled, safe_mode=True
    recon = model.predict(uint8_images)             # (N, 28, 28) in, (N, 28, 28) out, scaled by dtype
    codes = model.encode(images)
    clf = zoo.create_model("mnist_classifier", encoder="cae_mnist")   # untrained head on a pretrained encoder

`import zoo` is cheap: the registry (names, presets, cards) imports no TensorFlow. Everything else is imported on
first use (PEP 562), TensorFlow quietly (zoo.startup).
"""

import importlib

from zoo import errors, registry
from zoo.startup import import_tensorflow_quietly
from zoo.errors import DataUnavailable, ZooError
from zoo.registry import build, create_model, from_preset, list_models, load, model_card

# name -> module that defines it, imported when the name is first read
_LAZY = {
    "ZooModel": "zoo.base",
    "Autoencoder": "zoo.families.autoencoder",
    "ImageAutoencoder": "zoo.families.autoencoder",
    "EncoderClassifier": "zoo.families.classifier",
    "VAE": "zoo.families.vae",
    "ConditionalVAE": "zoo.families.vae",
    "search": "zoo.retrieval",
}
_SUBMODULES = {"cards", "checks", "compat", "data", "families", "figures", "io", "layers", "retrieval", "rl",
               "startup", "training"}
_LIGHT = {"cards", "checks", "data", "families", "figures", "io", "startup"}   # no TensorFlow behind these


def __getattr__(name):
    if name in _SUBMODULES:
        if name not in _LIGHT:
            import_tensorflow_quietly()
        return importlib.import_module(f"zoo.{name}")
    if name in _LAZY:
        import_tensorflow_quietly()
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


def classifier(encoder, **config):
    """A classifier (untrained head) on a registered model's pretrained encoder, or on a model instance."""
    return create_model("mnist_classifier", encoder=encoder, **config)


__all__ = ["ZooError", "DataUnavailable", "ZooModel", "list_models", "build", "create_model", "load", "from_preset",
           "model_card", "classifier", "Autoencoder", "ImageAutoencoder", "VAE", "ConditionalVAE",
           "EncoderClassifier", "search", "retrieval", "checks", "data", "errors", "families", "figures", "io", "layers",
           "registry", "training"]
__version__ = "0.2.0"
