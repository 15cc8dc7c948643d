"""Presets of the energy family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.energy, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "rbm_mnist": {
        "class": "RBM", "data": "mnist",
        "description": "Bernoulli-Bernoulli RBM, 784 visible and 500 hidden units, trained with persistent CD "
                       "(100 fantasy particles, 1 Gibbs step per update) on dynamically binarized MNIST; test "
                       "log-likelihood by AIS (100 chains, 14,500 intermediate distributions).",
        "config": dict(visible=784, hidden=500, cd_k=1, persistent=True, num_chains=100, momentum=0.9,
                       weight_decay=1e-4, binarization="dynamic", ais_chains=100, ais_betas=14500, ais_runs=3),
        "train": dict(epochs=200, batch_size=100, learning_rate=0.01, lr_schedule="cosine"),
    },
}
