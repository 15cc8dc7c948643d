"""Presets of the recurrent family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.recurrent, which the registry imports the first time a model of this family is built or loaded."""

_DATA_NOTE = ("trained on tinyshakespeare's first 90%, validated on the last 10% (nanoGPT's split); nats/char "
              "teacher-forced over the whole validation text")


def _shakespeare(description, epochs, batch_size, learning_rate, **config):
    """A character model of tinyshakespeare, trained with a cosine schedule from seed 0."""
    return {"class": "CharLM", "data": "tinyshakespeare", "config": {"sequence_length": 128, **config},
            "train": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                      "lr_schedule": "cosine", "seed": 0},
            "description": description + " on tinyshakespeare; " + _DATA_NOTE}


PRESETS = {
    "char_lstm_shakespeare": _shakespeare("Character-level LSTM (seed-equation cell, 1 x 512, dropout 0.2)", 20, 64,
                                          3e-3, cell="lstm", embedding_dim=64, units=512, num_layers=1, dropout=0.2),
    "char_gru_shakespeare": _shakespeare("Character-level GRU (seed-equation cell, 1 x 256)", 2, 64, 3e-3, cell="gru",
                                         embedding_dim=64, units=256, num_layers=1),
    "char_srn_shakespeare": _shakespeare("Character-level Elman SRN (1 x 256)", 2, 64, 2e-3, cell="srn",
                                         embedding_dim=64, units=256, num_layers=1),
    "char_window_shakespeare": _shakespeare("NetTalk-style sliding-window MLP (last 8 characters, 512 tanh units)",
                                            3, 64, 2e-3, cell="window", embedding_dim=32, units=512, window=8),
    "char_lstm_tiny": {
        "class": "CharLM", "data": "tinyshakespeare",
        "config": {"cell": "lstm", "embedding_dim": 8, "units": 16, "num_layers": 1, "sequence_length": 32},
        "train": {"epochs": 2, "batch_size": 256, "learning_rate": 3e-3, "seed": 0},
        "description": "A tiny LSTM for tests (kill-and-resume, CLI); not shipped",
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.recurrent.
COMMANDS = {
    "generate": "Continue a prompt with a character-level language model.",
}
