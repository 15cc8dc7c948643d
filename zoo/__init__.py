"""zoo: a TensorFlow/Keras model zoo of the classic neural-network families.

    import zoo
    zoo.list_models("*vae*")
    model = zoo.load("ae_mnist")                    # pretrained, compiled, safe_mode=True
    recon = model.predict(uint8_images)             # (N, 28, 28) in, (N, 28, 28) out, scaled by dtype
    codes = model.encode(images)
    clf = zoo.create_model("mnist_classifier", encoder="cae_mnist")   # untrained head on a pretrained encoder
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly():
    """TensorFlow's C++ start-up writes lines straight to file descriptor 2 (absl's "All log messages before
    absl::InitializeLog()", "Could not find cuda drivers") that no log level reaches, so a one-line error would be
    several. They are hidden for the length of the import only; ZOO_DEBUG=1 or a --debug argument shows them."""
    if os.environ.get("ZOO_DEBUG") or "--debug" in sys.argv[1:] or "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):   # no usable stderr: nothing to keep quiet
        return
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

from zoo import checks, data, errors, families, figures, io, layers, registry, retrieval, training  # noqa: E402
from zoo.base import ZooModel  # noqa: E402
from zoo.errors import DataUnavailable, ZooError  # noqa: E402
from zoo.families.autoencoder import Autoencoder, ImageAutoencoder  # noqa: E402
from zoo.families.classifier import EncoderClassifier  # noqa: E402
from zoo.families.vae import VAE, ConditionalVAE  # noqa: E402
from zoo.registry import build, create_model, from_preset, list_models, load, model_card  # noqa: E402
from zoo.retrieval import search  # noqa: E402


def classifier(encoder, **config):
    """A classifier (untrained head) on a registered model's pretrained encoder, or on a model instance."""
    return create_model("mnist_classifier", encoder=encoder, **config)


__all__ = ["ZooError", "DataUnavailable", "ZooModel", "list_models", "build", "create_model", "load", "from_preset",
           "model_card", "classifier", "Autoencoder", "ImageAutoencoder", "VAE", "ConditionalVAE",
           "EncoderClassifier", "search", "retrieval", "checks", "data", "errors", "families", "figures", "io", "layers", "registry",
           "training"]
__version__ = "0.2.0"
