"""Presets of the perceptron family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.perceptron, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "perceptron": {
        "class": "Perceptron", "data": None,
        "description": "Rosenblatt's perceptron (one threshold unit, 3 inputs) learning the seed's festival table "
                       "(weather, friend, transport -> go; Y = weather) by the perceptron rule.",
        "config": dict(input_dim=3, init="zeros", table="festival"),
        "train": dict(epochs=20, batch_size=8, learning_rate=1.0),
    },
    "mlp_xor": {
        "class": "MLP", "data": None,
        "description": "Multilayer perceptron 2-4-1 (tanh hidden, sigmoid output) trained by backpropagation on XOR, "
                       "which no single perceptron can learn.",
        "config": dict(input_dim=2, hidden_units=[4], activation="tanh", table="xor"),
        "train": dict(epochs=300, batch_size=4, learning_rate=0.05),
    },
}
