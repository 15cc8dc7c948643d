"""One file per family. Each module keeps its presets as a plain dict beside its model; they are
gathered here, one line per family, for the registry."""

from zoo.models import autoencoder
from zoo.models import classifier
from zoo.models import regularized
from zoo.models.autoencoder import Autoencoder
from zoo.models.base import ImageAutoencoder
from zoo.models import vae
from zoo.models.vae import VAE, ConditionalVAE

PRESETS = {}


def _register(presets):
    clash = set(PRESETS) & set(presets)
    if clash:
        raise RuntimeError(f"preset names registered twice: {sorted(clash)}")
    PRESETS.update(presets)


_register(autoencoder.PRESETS)
_register(regularized.PRESETS)
_register(vae.PRESETS)
_register(classifier.PRESETS)
