"""Presets of the vae family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.vae, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "vae_mnist": {
        "class": "VAE", "data": "mnist",
        "description": "Variational autoencoder 784-512-256-z32-256-512-784, ReLU, diagonal Gaussian posterior, "
                       "N(0, I) prior, Bernoulli pixels; trained on the 10-sample importance-weighted bound (IWAE) "
                       "of dynamically binarized MNIST, every training image (none held out), with KL warm-up and a cosine "
                       "decay.",
        "config": dict(hidden_units=[512, 256], latent_dim=32, activation="relu", kl_warmup_epochs=10,
                       importance_samples=10),
        # No validation split: 100 cosine epochs were chosen on runs that held 2,000 images out, and then every
        # image counts.
        "train": dict(epochs=100, batch_size=128, learning_rate=1e-3, lr_schedule="cosine", validation=0),
    },
    "vae2d_mnist": {
        "class": "VAE", "data": "mnist",
        "description": "Variational autoencoder 784-512-256-z2-256-512-784 with a 2-D latent space, for latent "
                       "maps and decoded grids.",
        "config": dict(hidden_units=[512, 256], latent_dim=2, activation="relu"),
        "train": dict(epochs=60, batch_size=128, learning_rate=1e-3),
    },
    "cvae_mnist": {
        "class": "ConditionalVAE", "data": "mnist",
        "description": "Conditional VAE 784+10 -> 512-256 -> z16 -> (z16+10) -> 256-512 -> 784: the one-hot label "
                       "feeds encoder and decoder, so z carries style.",
        "config": dict(hidden_units=[512, 256], latent_dim=16, activation="relu", kl_warmup_epochs=5, num_classes=10),
        "train": dict(epochs=80, batch_size=128, learning_rate=1e-3),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.vae.
COMMANDS = {
    "neighbours": "a test image's nearest training images by the code (--image N --out fig.png)",
}
