"""A family of many presets (loaded through $ZOO_FAMILIES), so `zoo list` writes more than a pipe buffer holds."""

from zoo.families.autoencoder import Autoencoder

FAMILY = "filler"
PRESETS = {f"filler_{i:04d}": {"class": Autoencoder, "data": "mnist", "config": {}, "train": {},
                               "description": "a preset that exists to make `zoo list` long " + "." * 40}
           for i in range(400)}
