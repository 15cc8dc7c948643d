"""Train a tiny model for a few steps under a chosen strategy and save its weights as .npz (the chief only).

    python tests/helpers/distributed_run.py default OUT.npz
    python tests/helpers/distributed_run.py mirrored2 OUT.npz            # MirroredStrategy over 2 logical CPUs
    python tests/helpers/distributed_run.py mirrored2 OUT.npz finetune   # a classifier's two phases instead
    TF_CONFIG=... python tests/helpers/distributed_run.py multiworker OUT.npz

Every mode sees the same synthetic data, seed and global batch, so the weights must agree.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

mode, out = sys.argv[1], sys.argv[2]
task = sys.argv[3] if len(sys.argv) > 3 else "autoencoder"
if mode == "mirrored2":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import zoo  # noqa: E402
from zoo import training  # noqa: E402

# The multi-worker strategy must exist before any other TensorFlow op runs.
if mode == "mirrored2":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = training.make_strategy({"default": "default", "multiworker": "multiworker"}[mode])
tf.config.experimental.enable_op_determinism()

rng = np.random.default_rng(0)
x = (rng.random((256, 784)) < 0.3).astype(np.float32)
keras.utils.set_random_seed(0)
if task == "finetune":
    y = rng.integers(0, 10, len(x))
    with strategy.scope():
        # No dropout: each replica would draw its own masks, which no single process can reproduce.
        model = zoo.create_model("mnist_classifier", encoder=zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=4),
                                 seed=0, dropout=0.0)
    initial = model.get_weights()
    # The fine-tuning recipe's two phases: the head on the frozen encoder, then everything.
    for phase, freeze, rate in (("head", "all", 1e-2), ("all", "none", 1e-3)):
        model.set_freeze(freeze)
        training.fit(model, (x, y), epochs=1, batch_size=64, learning_rate=rate, seed=0, verbose=0,
                     strategy=strategy, phase=phase)
else:
    with strategy.scope():
        model = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=3)
    initial = model.get_weights()
    # SGD, not Adam: Adam's normalised steps hide a wrong gradient scale, SGD's do not.
    training.fit(model, x, epochs=2, batch_size=64, learning_rate=0.01, seed=0, verbose=0, strategy=strategy,
                 optimizer="sgd")
if training.is_chief(strategy):
    np.savez(out, **{f"trained_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())},
             **{f"initial_{i}": w for i, w in enumerate(initial)}, replicas=strategy.num_replicas_in_sync)
print("done", strategy.num_replicas_in_sync)
