"""Train a tiny autoencoder for a few steps under a chosen strategy and save its weights as .npz.

    python tests/helpers/distributed_run.py default OUT.npz
    python tests/helpers/distributed_run.py mirrored2 OUT.npz     # MirroredStrategy over 2 logical CPUs
    python tests/helpers/distributed_run.py mirrored2 OUT.npz finetune   # zoo.train.fine_tune instead
    TF_CONFIG=... python tests/helpers/distributed_run.py multiworker OUT.npz

Every mode sees the same synthetic data, seed and global batch, so the weights must agree.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np
import tensorflow as tf

mode, out = sys.argv[1], sys.argv[2]
if mode == "mirrored2":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import zoo  # noqa: E402
from zoo.train import fit, is_chief, make_strategy  # noqa: E402

keras.config.disable_traceback_filtering()
tf.config.experimental.enable_op_determinism()
strategy = {"default": "default", "mirrored2": "mirrored", "multiworker": "multiworker"}[mode]
strategy = make_strategy(strategy)
if mode == "mirrored2":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

rng = np.random.default_rng(0)
x = (rng.random((256, 784)) < 0.3).astype(np.float32)
keras.utils.set_random_seed(0)
if len(sys.argv) > 3 and sys.argv[3] == "finetune":
    from zoo.finetune import classifier, fine_tune

    y = rng.integers(0, 10, len(x))
    with strategy.scope():
        model = classifier("ae_mnist", pretrained=False, seed=0)
    fine_tune(model, x, y, epochs_head=1, epochs_all=1, batch_size=64, seed=0, strategy=strategy)
else:
    with strategy.scope():
        model = zoo.build("ae_mnist", hidden_units=[16], latent_dim=3)
    # SGD, not Adam: Adam hides a wrong gradient scale, SGD does not.
    fit(model, {"train": (x, np.zeros(len(x))), "val": (x[:0], np.zeros(0))}, epochs=2, batch_size=64,
        learning_rate=0.01, seed=0, verbose=0, strategy=strategy, optimizer="sgd")
if is_chief(strategy):
    np.savez(out, *[np.asarray(w) for w in model.get_weights()], replicas=strategy.num_replicas_in_sync)
print("done", strategy.num_replicas_in_sync)
