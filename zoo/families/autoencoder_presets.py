"""Presets of the autoencoder family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.autoencoder, which the registry imports the first time a model of this family is built or loaded."""

def _one_tied_sigmoid_layer(latent_dim, **regularizer):
    """The one-hidden-layer, tied, sigmoid autoencoder the regularized presets share."""
    return dict(hidden_units=[], latent_dim=latent_dim, activation="sigmoid", latent_activation="sigmoid", tied=True,
                **regularizer)



PRESETS = {
    "ae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Deep undercomplete autoencoder 784-1000-500-250-30-250-500-1000-784 (Hinton & "
                       "Salakhutdinov's sizes), ReLU, sigmoid output, cross-entropy loss; trained on images "
                       "shifted by up to 2 pixels, with a cosine decay.",
        "config": dict(hidden_units=[1000, 500, 250], latent_dim=30, activation="relu",
                       output_activation="sigmoid", loss="bce"),
        "train": dict(epochs=200, batch_size=128, learning_rate=1e-3, lr_schedule="cosine", shift=2),
    },
    "ae_mnist_512": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Deep undercomplete autoencoder 784-512-256-30-256-512-784, ReLU, sigmoid output, "
                       "cross-entropy loss, 60 epochs at a constant rate: the previous release's ae_mnist, kept "
                       "as mnist_classifier_100labels' encoder (virtual adversarial training from 100 labels did "
                       "worse on the wider ae_mnist).",
        "config": dict(hidden_units=[512, 256], latent_dim=30, activation="relu", output_activation="sigmoid",
                       loss="bce"),
        "train": dict(epochs=60, batch_size=128, learning_rate=1e-3),
    },
    "linear_ae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Linear autoencoder 784-30-784 with squared loss: learns the PCA subspace (k=30).",
        "config": dict(hidden_units=[], latent_dim=30, activation=None, output_activation=None, loss="mse"),
        # The cosine decay lets Adam settle on the optimum (PCA): at a constant rate the validation error stayed
        # at 14.50, with the decay 14.30 (58,000 training images, 2,000 held out).
        "train": dict(epochs=100, batch_size=128, learning_rate=3e-3, lr_schedule="cosine"),
    },
    "stacked_tied_ae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Stacked autoencoder 784-400-200-30-200-400-784 with tied weights (decoder = encoder "
                       "transposed), sigmoid hidden layers, linear code, cross-entropy loss; greedy layer-wise "
                       "pretraining, then fine-tuning.",
        "config": dict(hidden_units=[400, 200], latent_dim=30, activation="sigmoid", latent_activation=None,
                      tied=True),
        "train": dict(epochs=20, layerwise_pretrain_epochs=5, batch_size=128, learning_rate=2e-3),
    },
    "dae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Denoising autoencoder 784-500-784, tied, sigmoid; each training image is corrupted by "
                       "one of gaussian (sigma 0.25, 0.5), masking or salt-and-pepper (fraction 0.25, 0.5).",
        "config": _one_tied_sigmoid_layer(500, noise=[["gaussian", 0.25], ["gaussian", 0.5], ["masking", 0.25],
                                                      ["masking", 0.5], ["salt_and_pepper", 0.25],
                                                      ["salt_and_pepper", 0.5]]),
        "train": dict(epochs=40, batch_size=128, learning_rate=2e-3),
    },
    "sparse_ae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Overcomplete autoencoder 784-1000-784, tied, sigmoid code with KL sparsity penalty "
                       "(target mean activation 0.05).",
        "config": _one_tied_sigmoid_layer(1000, sparsity_target=0.05, sparsity_weight=0.5),
        "train": dict(epochs=25, batch_size=128, learning_rate=2e-3),
    },
    "cae_mnist": {
        "class": "Autoencoder", "data": "mnist",
        "description": "Contractive autoencoder 784-500-784, tied, sigmoid code, penalty lambda ||dh/dx||_F^2 "
                       "in closed form.",
        "config": _one_tied_sigmoid_layer(500, contractive_weight=0.1),
        "train": dict(epochs=30, batch_size=128, learning_rate=2e-3),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.autoencoder.
COMMANDS = {
    "neighbours": "a test image's nearest training images by the code (--image N --out fig.png)",
}
