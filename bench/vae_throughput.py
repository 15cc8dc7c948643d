"""Training throughput of the zoo's MLP VAE against Pythae's, on the same MNIST rows, on CPU.

    ZOO_DATA_DIR=... python bench/vae_throughput.py [--epochs 8]

Both train 784-512-z20-512-784 (ReLU, Bernoulli/BCE likelihood, Adam 1e-3, batch 128), which is Pythae's
default MLP for 28x28 inputs. The zoo runs its own path (zoo.training.fit: zoo.data.pipeline, and VAE.train_step with
dynamic binarization under Keras fit), once as the zoo compiles it (no XLA on CPU) and once with
jit_compile=True. Pythae runs its TrainingPipeline on a fixed binarization of the same rows, and the same
Pythae model runs once more under a bare PyTorch loop (trainer overhead left out). The first
epoch of each run (tracing, warm-up) is left out; samples/s is the median over the other epochs.

Also reported: the zoo's achieved training FLOP/s, counted analytically from the dense layers (2*in*out
per sample forward, x3 for forward + backward), next to what one large float32 matmul reaches here.
Prints one JSON object.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

HIDDEN, LATENT, BATCH, LR = 512, 20, 128, 1e-3


def dense_flops_per_sample():
    """Matmul FLOPs of one training step per sample: encoder, both heads, decoder; x3 for backward."""
    layers = [(784, HIDDEN), (HIDDEN, LATENT), (HIDDEN, LATENT), (LATENT, HIDDEN), (HIDDEN, 784)]
    return 3 * sum(2 * i * o for i, o in layers)


def _median_rate(epoch_seconds, n):
    steady = epoch_seconds[1:] or epoch_seconds
    return n / float(np.median(steady))


def bench_zoo(x, epochs, jit_compile):
    """The path `zoo train` takes: zoo.training.fit with its (seed, epoch)-keyed tf.data pipeline, the model's
    tf.function train step with dynamic binarization (a VAE config value), Adam."""
    import keras

    import zoo
    from zoo import training

    keras.utils.set_random_seed(0)
    model = zoo.create_model("vae_mnist", hidden_units=[HIDDEN], latent_dim=LATENT, kl_warmup_epochs=0,
                             dynamic_binarization=True)
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    history = training.fit(model, x, None, epochs=epochs, batch_size=BATCH, learning_rate=LR, seed=0, verbose=0,
                           jit_compile=jit_compile, callbacks=[Timer()])
    return {"samples_per_s": round(_median_rate(times, len(x)), 1),
            "epoch_seconds": [round(t, 2) for t in times],
            "final_loss": round(float(history["loss"][-1]), 2)}


def bench_pythae(x, epochs):
    try:
        import torch
        from pythae.models import VAE, VAEConfig
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
        from pythae.trainers.training_callbacks import TrainingCallback
    except Exception as e:  # not installed, or a broken install
        return {"available": False, "reason": f"{type(e).__name__}: {e}"}

    import logging

    logging.getLogger("pythae").setLevel(logging.ERROR)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    from zoo.data import binarize

    data = torch.from_numpy(binarize(x, seed=0).reshape(-1, 1, 28, 28))
    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce"))
    times = []

    class Timer(TrainingCallback):
        def on_epoch_begin(self, training_config, **kwargs):
            self.t = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=LR,
                                   per_device_train_batch_size=BATCH, optimizer_cls="Adam",
                                   steps_saving=None, no_cuda=True)
        TrainingPipeline(model=model, training_config=config)(train_data=data, callbacks=[Timer()])
    # The same Pythae model stepped by a bare PyTorch loop: what is left once the trainer is taken away.
    torch.manual_seed(0)
    bare = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce"))
    opt = torch.optim.Adam(bare.parameters(), lr=LR)
    bare_times = []
    for _ in range(epochs):
        t = time.perf_counter()
        for idx in torch.randperm(len(data)).split(BATCH):
            loss = bare({"data": data[idx]}).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        bare_times.append(time.perf_counter() - t)
    import pythae

    return {"available": True, "torch": torch.__version__,
            "pythae": getattr(pythae, "__version__", "0.1.2"), "threads": torch.get_num_threads(),
            "samples_per_s": round(_median_rate(times, len(x)), 1),
            "epoch_seconds": [round(t, 2) for t in times],
            "bare_torch_loop_samples_per_s": round(_median_rate(bare_times, len(x)), 1),
            "bare_torch_loop_epoch_seconds": [round(t, 2) for t in bare_times],
            "data": "fixed binarization (Pythae has no dynamic binarization)"}


def matmul_flops(n=2048, repeats=10):
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    (a @ b).numpy()
    t = time.perf_counter()
    for _ in range(repeats):
        c = a @ b
    c.numpy()
    return 2 * n ** 3 * repeats / (time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=8, help="the first is left out; the zoo speeds up over the first few")
    ap.add_argument("--examples", type=int, default=15000)
    args = ap.parse_args(argv)

    import tensorflow as tf
    import keras

    from zoo import data as zdata

    x = zdata.splits("mnist")["train"][0][:args.examples]
    zoo_plain = bench_zoo(x, args.epochs, jit_compile=False)
    zoo_xla = bench_zoo(x, args.epochs, jit_compile=True)
    pythae = bench_pythae(x, args.epochs)
    flops_sample = dense_flops_per_sample()
    peak = matmul_flops()
    best = max(zoo_plain["samples_per_s"], zoo_xla["samples_per_s"])
    result = {
        "model": f"VAE 784-{HIDDEN}-z{LATENT}-{HIDDEN}-784, batch {BATCH}, Adam {LR}",
        "examples": len(x), "epochs": args.epochs, "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "zoo": zoo_plain,
        "zoo_jit_compile": zoo_xla,
        "pythae": pythae,
        "zoo_over_pythae": (round(best / pythae["samples_per_s"], 2) if pythae.get("available") else None),
        "xla_over_plain": round(zoo_xla["samples_per_s"] / zoo_plain["samples_per_s"], 2),
        "zoo_train_gflop_per_sample_analytic": round(flops_sample / 1e9, 5),
        "zoo_train_gflops": round(best * flops_sample / 1e9, 2),
        "matmul_2048_float32_gflops": round(peak / 1e9, 2),
        "zoo_fraction_of_matmul": round(best * flops_sample / peak, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
