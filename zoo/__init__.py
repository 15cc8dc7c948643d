"""zoo: a TensorFlow/Keras model zoo of the classic neural-network families.

    import zoo
    zoo.list_models("*ae*")
    model = zoo.load("ae_mnist")          # pretrained, from saved_models/
    codes = model.encode(images)          # uint8 or float in [0, 1], (28, 28), (28, 28, 1) or 784
"""

from zoo.errors import DataUnavailable, ZooError
from zoo.registry import build, create_model, from_preset, list_models, load, model_card
from zoo.finetune import classifier

__all__ = ["ZooError", "DataUnavailable", "list_models", "build", "create_model", "load", "from_preset",
           "model_card", "classifier"]
__version__ = "0.1.0"
