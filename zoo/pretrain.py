"""Greedy layer-wise pretraining of stacked autoencoders (Bengio et al. 2007; Hinton & Salakhutdinov 2006).

Each encoder layer is trained as the hidden layer of a one-hidden-layer autoencoder on the codes of the
layers below it, then the whole stack is fine-tuned end to end. The one-layer autoencoders are made of
the stacked model's own layers (the encoder Dense and the decoder layer that mirrors it, tied or not), so
pretraining trains the stack's variables in place and nothing is copied afterwards.

`train_stacked` is the training command of `stacked_tied_ae_mnist`: pretraining + fine-tuning, and, for
the card, the same model trained from random initialisation for the same total number of epochs.
"""

import time
from pathlib import Path

import numpy as np
import keras

from zoo import data as zdata
from zoo import registry
from zoo.errors import ZooError


def _pair_autoencoder(encoder_layer, decoder_layer, input_dim, name):
    x = keras.Input((input_dim,))
    return keras.Model(x, decoder_layer(encoder_layer(x)), name=name)


def pretrain_layerwise(model, x, epochs_per_layer, batch_size=128, learning_rate=1e-3, seed=0, verbose=0):
    """Pretrain `model`'s encoder layers one at a time, bottom up, in place. Returns per-layer final losses.

    model: a zoo RegularizedAutoencoder (encoder_layers and decoder_logits mirror each other).
    x: float rows (N, input_dim) in [0, 1]. The first layer's pair is trained with cross-entropy on the
    pixels (its decoder yields logits); upper pairs reconstruct the codes below with squared error, since
    those codes need not be probabilities. Input noise, dropout and activity penalties are not used here:
    pretraining learns plain autoencoders; the fine-tuning step sees the full model.
    """
    if int(epochs_per_layer) != epochs_per_layer or epochs_per_layer <= 0:
        raise ZooError(f"epochs_per_layer must be a positive integer, got {epochs_per_layer!r}")
    encoder_layers = list(model.encoder_layers)
    decoder_layers = [l for l in model.decoder_logits.layers if not isinstance(l, keras.layers.InputLayer)]
    if len(decoder_layers) != len(encoder_layers):
        raise ZooError("the decoder does not mirror the encoder layer for layer")
    codes = np.asarray(x, np.float32)
    summary = []
    for i, enc in enumerate(encoder_layers):
        dec = decoder_layers[len(encoder_layers) - 1 - i]
        pair = _pair_autoencoder(enc, dec, codes.shape[1], name=f"pretrain_{enc.name}")
        first = i == 0
        loss = keras.losses.BinaryCrossentropy(from_logits=True) if first else "mse"
        keras.utils.set_random_seed(seed + i)
        pair.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
        history = pair.fit(codes, codes, epochs=int(epochs_per_layer), batch_size=batch_size, shuffle=True,
                           verbose=verbose)
        summary.append({"layer": enc.name, "input_dim": int(codes.shape[1]), "units": int(enc.units),
                        "loss": "bce" if first else "mse", "final_loss": round(float(history.history["loss"][-1]), 5)})
        codes = _apply(enc, codes)
    return summary


def _apply(layer, rows, batch=1024):
    return np.concatenate([np.asarray(layer(rows[i:i + batch])) for i in range(0, len(rows), batch)])


def train_stacked(name="stacked_tied_ae_mnist", epochs=None, layerwise_pretrain_epochs=None, batch_size=None,
                  seed=0, out=None, learning_rate=None, verbose=1, command=None, compare=True,
                  strategy="default", mixed_precision=False, jit_compile=False, deterministic=False,
                  **overrides):
    """Greedy layer-wise pretraining, then fine-tuning of the whole stack; writes the pretrained folder
    (model.keras, card.json, preview.png) like zoo.train.train_preset. Returns (model, card).

    With compare=True the card also holds the test squared error of the same model trained without
    pretraining for the same total epochs (pretraining epochs per layer x layers + fine-tuning epochs; an
    epoch of one layer pair costs less than a full epoch, so this favours the baseline).

    The keyword arguments mirror zoo.train.train_preset, so a command line can call either. Pretraining
    runs plain Keras fits of the layer pairs, so only the default strategy and float32 are supported.
    """
    if strategy not in (None, "default") or mixed_precision:
        raise ZooError("layer-wise pretraining supports only the default strategy and float32 "
                       f"(got strategy={strategy!r}, mixed_precision={mixed_precision})")
    from zoo.train import check_positive, evaluate, fit, save_pretrained

    p = registry.preset(name)
    recipe = dict(p.get("train", {}))
    epochs = epochs if epochs is not None else recipe.get("epochs", 10)
    pre = layerwise_pretrain_epochs if layerwise_pretrain_epochs is not None else \
        recipe.get("layerwise_pretrain_epochs", 5)
    batch_size = batch_size if batch_size is not None else recipe.get("batch_size", 128)
    learning_rate = learning_rate if learning_rate is not None else recipe.get("learning_rate", 1e-3)
    check_positive(epochs=epochs, batch_size=batch_size, layerwise_pretrain_epochs=pre)
    out = Path(out) if out else registry.saved_models_dir() / name

    splits = zdata.mnist_splits(validation=recipe.get("validation", 2000), seed=seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    model = registry.build(name, **overrides)
    start = time.time()
    pretraining = pretrain_layerwise(model, splits["train"][0], pre, batch_size, learning_rate, seed,
                                     verbose=0 if verbose == 0 else 2)
    history = fit(model, splits, epochs, batch_size, learning_rate, seed, verbose=verbose,
                  jit_compile=jit_compile)
    seconds = time.time() - start
    metrics = evaluate(model, splits["test"])
    total_epochs = pre * len(model.encoder_layers) + epochs

    comparison = {"with_pretraining": {"layerwise_epochs_per_layer": pre, "fine_tune_epochs": epochs,
                                       "test_squared_error_per_image": metrics["squared_error_per_image"],
                                       "layers": pretraining}}
    if compare:
        keras.utils.set_random_seed(seed)
        baseline = registry.build(name, **overrides)
        fit(baseline, splits, total_epochs, batch_size, learning_rate, seed, verbose=0, jit_compile=jit_compile)
        comparison["without_pretraining"] = {
            "epochs": total_epochs,
            "test_squared_error_per_image": evaluate(baseline, splits["test"])["squared_error_per_image"]}

    training = {"command": command or f"python -m zoo train {name} --epochs {epochs} --batch-size {batch_size} "
                                      f"--seed {seed}",
                "seed": seed, "epochs": epochs, "layerwise_pretrain_epochs": pre, "batch_size": batch_size,
                "learning_rate": learning_rate, "optimizer": "Adam", "seconds": round(seconds, 1),
                "strategy": "_DefaultDistributionStrategy", "replicas": 1, "mixed_precision": False,
                "jit_compile": jit_compile,
                "final": {k: round(float(v[-1]), 4) for k, v in history.history.items()}}
    card = save_pretrained(name, model, splits, training, out, extra={"layerwise_pretraining": comparison})
    return model, card
