"""Regularized autoencoders: tied weights, denoising, sparse, contractive and dropout.

One graph builder, `RegularizedAutoencoder`, takes every regularizer as a config value; the named
subclasses differ only in what their model card measures. Penalties sit on the code (the last encoder
layer), as identity layers that add their loss when training; input noise sits at the encoder's input and
is active only when training, so `encode` and `reconstruct` always see the clean image.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo.layers import (ContractivePenalty, DenseTranspose, KLSparsityRegularizer, L1ActivityRegularizer,
                        NoiseMixture, jacobian_sq_norm, make_noise)
from zoo.errors import ZooError
from zoo.models.autoencoder import reconstruction_terms
from zoo.models.base import ImageAutoencoder, replica_mean

LOSSES = ("bce", "mse")


@keras.saving.register_keras_serializable(package="zoo")
class RegularizedAutoencoder(ImageAutoencoder):
    """Dense autoencoder input_dim -> hidden_units -> latent_dim -> mirrored decoder, with optional
    regularizers.

    - tied: decoder layer k uses the transpose of encoder layer (L - k)'s kernel (DenseTranspose), with its
      own bias; about half the parameters.
    - noise: (kind, level) pairs, kinds "gaussian" (level = stddev), "masking", "salt_and_pepper" (level =
      fraction); each training example is corrupted by one of them, drawn uniformly (denoising AE).
    - hidden_dropout: dropout rate after every encoder layer, the code included.
    - l1_weight: L1 activity penalty on the code; sparsity_weight, sparsity_target: KL sparsity penalty on
      the code's mean activation; contractive_weight: ||d code / d input of the code layer||_F^2.
    """

    family = "regularized_autoencoder"

    def __init__(self, input_dim=784, hidden_units=(), latent_dim=500, activation="sigmoid",
                 latent_activation="sigmoid", output_activation="sigmoid", loss="bce", tied=False,
                 noise=None, hidden_dropout=0.0, l1_weight=0.0, sparsity_target=0.05, sparsity_weight=0.0,
                 contractive_weight=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ZooError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "bce" and output_activation != "sigmoid":
            raise ZooError("loss='bce' needs output_activation='sigmoid'")
        if not 0.0 <= float(hidden_dropout) < 1.0:
            raise ZooError(f"hidden_dropout must lie in [0, 1), got {hidden_dropout}")
        hidden_units = [int(u) for u in hidden_units]
        noise = [[str(k), float(v)] for k, v in noise] if noise else None
        self._config = dict(input_dim=input_dim, hidden_units=hidden_units, latent_dim=latent_dim,
                            activation=activation, latent_activation=latent_activation,
                            output_activation=output_activation, loss=loss, tied=bool(tied), noise=noise,
                            hidden_dropout=float(hidden_dropout), l1_weight=float(l1_weight),
                            sparsity_target=float(sparsity_target), sparsity_weight=float(sparsity_weight),
                            contractive_weight=float(contractive_weight), seed=seed)
        self.input_dim, self.latent_dim, self.loss_kind = input_dim, latent_dim, loss

        x = keras.Input((input_dim,), name="image")
        h = NoiseMixture(noise, seed=seed, name="corruption")(x) if noise else x
        self.encoder_layers = []
        for i, units in enumerate(hidden_units + [latent_dim]):
            last = i == len(hidden_units)
            dense = keras.layers.Dense(units, activation=latent_activation if last else activation,
                                       name="code" if last else f"enc_{i}")
            below, h = h, dense(h)
            self.encoder_layers.append(dense)
            if last:
                if l1_weight:
                    h = L1ActivityRegularizer(l1_weight, name="l1_activity")(h)
                if sparsity_weight:
                    h = KLSparsityRegularizer(sparsity_target, sparsity_weight, name="kl_sparsity")(h)
                if contractive_weight:
                    h = ContractivePenalty(dense, contractive_weight, name="contractive")([below, h])
            if hidden_dropout:
                h = keras.layers.Dropout(hidden_dropout, seed=seed + 100 + i, name=f"dropout_{i}")(h)
        self.encoder = keras.Model(x, h, name="encoder")

        z = keras.Input((latent_dim,), name="z")
        h = z
        mirrored = list(reversed(self.encoder_layers))
        for i, enc in enumerate(mirrored):
            last = i == len(mirrored) - 1
            act = None if last else activation
            name = "logits" if last else f"dec_{i}"
            if tied:
                layer = DenseTranspose(enc, activation=act, name=name)
            else:
                units = input_dim if last else int(mirrored[i + 1].units)
                layer = keras.layers.Dense(units, activation=act, name=name)
            h = layer(h)
        self.decoder_logits = keras.Model(z, h, name="decoder_logits")
        pixels = keras.layers.Activation(output_activation or "linear", name="pixels")(h)
        self.decoder = keras.Model(z, pixels, name="decoder")

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.se_tracker = keras.metrics.Mean(name="squared_error")
        self.penalty_tracker = keras.metrics.Mean(name="penalty")
        self.built = True  # encoder and decoder are built above; nothing is left to infer from data

    @property
    def metrics(self):
        return [self.loss_tracker, self.se_tracker, self.penalty_tracker]

    def _reconstruction_losses(self, x, training):
        logits = self.decoder_logits(self.encoder(x, training=training), training=training)
        return reconstruction_terms(x, logits, self.loss_kind, self._config["output_activation"])

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            rec, se = self._reconstruction_losses(x, training=True)
            penalty = tf.add_n(self.losses) if self.losses else tf.constant(0.0)
            loss = replica_mean(rec) + penalty
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        self.penalty_tracker.update_state(penalty)
        return self.metric_logs()

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        rec, se = self._reconstruction_losses(x, training=False)
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        # Penalties are training-time terms, so validation reports reconstruction alone.
        return {m.name: m.result() for m in (self.loss_tracker, self.se_tracker)}

    def save(self, filepath, *args, **kwargs):
        """Writes the .keras file without the optimizer's state: a pretrained file is for inference and
        fine-tuning, and Adam's two moments would triple its size. (BackupAndRestore checkpoints, written
        with save_weights, keep it.)"""
        optimizer = getattr(self, "optimizer", None)
        self.optimizer = None
        try:
            return super().save(filepath, *args, **kwargs)
        finally:
            self.optimizer = optimizer

    # -- helpers for the model cards ----------------------------------------------------------------------
    def code_rows(self, rows):
        return self._batched(self.encode_rows, rows)

    def reconstruct_rows(self, rows):
        """Reconstructions of float rows of any finite values (noisy inputs may leave [0, 1])."""
        rows = np.asarray(rows, np.float32).reshape(len(rows), self.input_dim)
        if not np.all(np.isfinite(rows)):
            raise ZooError("rows contain NaN or Inf")
        return self._batched(lambda r: self.call(r), rows)

    def _recipe(self):
        """(epochs, batch_size, learning_rate) this model was just trained with, so a comparison model in
        the card can be trained the same way."""
        from zoo import registry

        recipe = dict(registry.PRESETS.get(self.name, {}).get("train", {}))
        history = getattr(self, "history", None)
        epochs = len(history.epoch) if history is not None and history.epoch else recipe.get("epochs", 10)
        lr = recipe.get("learning_rate", 1e-3)
        if getattr(self, "optimizer", None) is not None:
            lr = round(float(keras.ops.convert_to_numpy(self.optimizer.learning_rate)), 6)
        return int(epochs), int(recipe.get("batch_size", 128)), lr

    def _train_like_me(self, splits, label, **overrides):
        """A sibling with the same config but `overrides`, trained with this model's recipe (seed 0)."""
        from zoo.train import fit

        epochs, batch_size, lr = self._recipe()
        config = {**self._config, **overrides}
        keras.utils.set_random_seed(0)
        other = type(self)(name=f"{self.name}_{label}", **config)
        fit(other, splits, epochs, batch_size, lr, seed=0, verbose=0)
        return other, {"config_changes": overrides, "epochs": epochs, "batch_size": batch_size,
                       "learning_rate": lr}


def squared_error_per_image(a, b):
    return float(np.mean(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=1)))


def denoising_figures(clean, noisy, denoised):
    """Per-image squared error, per-pixel MSE and PSNR (dB, images in [0, 1]; mean over images)."""
    def figures(out):
        mse = np.mean((np.asarray(out, np.float64) - clean) ** 2, axis=1)
        return {"squared_error_per_image": round(float(mse.mean() * clean.shape[1]), 3),
                "mse_per_pixel": round(float(mse.mean()), 5),
                "psnr_db": round(float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12)))), 2)}
    return {"noisy_input": figures(noisy), "denoised": figures(denoised)}


@keras.saving.register_keras_serializable(package="zoo")
class StackedTiedAutoencoder(RegularizedAutoencoder):
    """Stacked autoencoder whose decoder is the encoder transposed (W_{L+k} = W_{L+1-k}^T)."""

    def card_extras(self, splits):
        untied = RegularizedAutoencoder(**{**self._config, "tied": False})
        return {"tied_weights": {"parameters": self.count_params_unique(),
                                 "untied_equivalent_parameters": untied.count_params_unique()}}


@keras.saving.register_keras_serializable(package="zoo")
class DenoisingAutoencoder(RegularizedAutoencoder):
    """Trained to map corrupted images back to the clean ones (Vincent et al. 2008)."""

    EVAL_LEVELS = (("gaussian", 0.25), ("gaussian", 0.5), ("masking", 0.25), ("masking", 0.5),
                   ("salt_and_pepper", 0.25), ("salt_and_pepper", 0.5))

    def denoise(self, noisy_rows):
        return self.reconstruct_rows(noisy_rows)

    def pictures(self, x=None, y=None):
        """Adds denoising.png: per noise kind at level 0.5, a row of noisy inputs over their denoised
        outputs (noisy values clipped to [0, 1] for display)."""
        out = super().pictures(x, y)
        if x is None:
            return out
        from zoo.images import tile

        x = np.asarray(x[:10], np.float32)
        rows = [x]
        for i, kind in enumerate(("gaussian", "masking", "salt_and_pepper")):
            noisy = np.asarray(make_noise(kind, 0.5, seed=2000 + i)(tf.constant(x), training=True))
            rows += [np.clip(noisy, 0, 1), self.denoise(noisy)]
        out["denoising.png"] = tile(np.concatenate(rows), cols=len(x))
        return out

    def card_extras(self, splits):
        x = splits["test"][0].astype(np.float32)
        table = {}
        for i, (kind, level) in enumerate(self.EVAL_LEVELS):
            noisy = np.asarray(make_noise(kind, level, seed=1000 + i)(tf.constant(x), training=True))
            table[f"{kind}_{level}"] = denoising_figures(x.astype(np.float64), noisy, self.denoise(noisy))
        return {"denoising": {"split": "test", "note": "noise drawn with seeds 1000.. on every test image; "
                              "gaussian is not clipped; psnr is the mean over images of 10 log10(1 / mse)",
                              "results": table}}


def activation_figures(codes, threshold=0.01):
    return {"mean_activation": round(float(codes.mean()), 4),
            "fraction_near_zero": round(float((codes < threshold).mean()), 4),
            "near_zero_threshold": threshold,
            "units_never_above_threshold": int(np.sum(codes.max(axis=0) < threshold))}


def relative_error(rec, x):
    """Squared error over each image's own variation around its mean pixel, averaged: 0 for a perfect copy,
    1 for answering every pixel with the image's mean."""
    x = np.asarray(x, np.float64)
    se = np.sum((np.asarray(rec, np.float64) - x) ** 2, axis=1)
    spread = np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return float(np.mean(se / np.maximum(spread, 1e-12)))


def probe_inputs(x, seed=0):
    """Non-digit inputs: an autoencoder close to the identity reconstructs these too; one that has learned
    the digits' structure does not."""
    rng = np.random.default_rng(seed)
    return {"test_digits": x,
            "uniform_noise": rng.random(x.shape, dtype=np.float32),
            "binary_noise_p0.2": (rng.random(x.shape) < 0.2).astype(np.float32),
            "pixel_shuffled_digits": x[:, rng.permutation(x.shape[1])],
            "inverted_digits": 1.0 - x}


@keras.saving.register_keras_serializable(package="zoo")
class SparseAutoencoder(RegularizedAutoencoder):
    """Overcomplete autoencoder kept from copying its input by a KL sparsity penalty on the code."""

    def card_extras(self, splits):
        x = splits["test"][0].astype(np.float32)
        plain, recipe = self._train_like_me(splits, "unregularized", sparsity_weight=0.0)
        out = {}
        for label, model in (("sparse", self), ("unregularized", plain)):
            figures = activation_figures(model.code_rows(x))
            figures["squared_error_per_image"], figures["relative_error"] = {}, {}
            for probe, rows in probe_inputs(x).items():
                rec = model.reconstruct_rows(rows)
                figures["squared_error_per_image"][probe] = round(squared_error_per_image(rec, rows), 3)
                figures["relative_error"][probe] = round(relative_error(rec, rows), 4)
            out[label] = figures
        return {"sparsity": {"split": "test", "comparison_recipe": recipe, **out,
                             "note": "errors on non-digit probes (seeded): relative_error near 0 means the autoencoder "
                                     "copies anything (identity-like); near or above 1 means it does not"}}


@keras.saving.register_keras_serializable(package="zoo")
class ContractiveAutoencoder(RegularizedAutoencoder):
    """Sigmoid code with the penalty ||dh/dx||_F^2 (closed form), so codes vary little off the data."""

    def jacobian_norms(self, rows):
        """||d code / d x||_F per image (exact batch Jacobian of the encoder)."""
        return np.concatenate([np.sqrt(np.asarray(jacobian_sq_norm(
            lambda r: self.encoder(r, training=False), tf.constant(rows[i:i + 256]))))
            for i in range(0, len(rows), 256)])

    def card_extras(self, splits):
        x = splits["test"][0][:1000].astype(np.float32)
        plain, recipe = self._train_like_me(splits, "plain", contractive_weight=0.0)
        out = {"split": "test", "images": len(x), "comparison_recipe": recipe}
        for label, model in (("contractive", self), ("plain_same_architecture", plain)):
            norms = ContractiveAutoencoder.jacobian_norms(model, x)
            out[label] = {"mean_jacobian_frobenius_norm": round(float(norms.mean()), 4),
                          "test_squared_error_per_image": round(squared_error_per_image(
                              model.reconstruct_rows(x), x), 3)}
        try:
            from zoo.registry import load

            ae = load("ae_mnist")
            out["ae_mnist"] = {"mean_jacobian_frobenius_norm": round(float(
                ContractiveAutoencoder.jacobian_norms(ae, x).mean()), 4),
                "note": "different architecture (784-512-256-30 ReLU)"}
        except Exception as e:  # ae_mnist not shipped yet: the same-architecture plain AE stands in
            out["ae_mnist"] = f"not available: {type(e).__name__}"
        return {"contraction": out}


def _config(**values):
    """Every config key of RegularizedAutoencoder, so zoo.build(name, key=value) can override any of them."""
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(RegularizedAutoencoder.__init__).parameters.items()
                if v.default is not inspect.Parameter.empty}
    defaults["hidden_units"] = list(defaults["hidden_units"])
    unknown = set(values) - set(defaults)
    if unknown:
        raise ZooError(f"unknown config keys {sorted(unknown)}")
    return {**defaults, **values}


PRESETS = {
    "stacked_tied_ae_mnist": {
        "class": StackedTiedAutoencoder,
        "family": "regularized_autoencoder",
        "description": "Stacked autoencoder 784-400-200-30-200-400-784 with tied weights (decoder = encoder "
                       "transposed), sigmoid hidden layers, linear code, cross-entropy loss; trained by "
                       "greedy layer-wise pretraining then fine-tuning (zoo.pretrain.train_stacked).",
        "config": _config(hidden_units=[400, 200], latent_dim=30, activation="sigmoid", latent_activation=None,
                       tied=True),
        "train": dict(epochs=20, layerwise_pretrain_epochs=5, batch_size=128, learning_rate=2e-3),
    },
    "dae_mnist": {
        "class": DenoisingAutoencoder,
        "family": "regularized_autoencoder",
        "description": "Denoising autoencoder 784-500-784, tied, sigmoid; each training image is corrupted by "
                       "one of gaussian (sigma 0.25, 0.5), masking or salt-and-pepper (fraction 0.25, 0.5).",
        "config": _config(hidden_units=[], latent_dim=500, activation="sigmoid", latent_activation="sigmoid",
                       tied=True, noise=[["gaussian", 0.25], ["gaussian", 0.5], ["masking", 0.25],
                                         ["masking", 0.5], ["salt_and_pepper", 0.25],
                                         ["salt_and_pepper", 0.5]]),
        "train": dict(epochs=40, batch_size=128, learning_rate=2e-3),
    },
    "sparse_ae_mnist": {
        "class": SparseAutoencoder,
        "family": "regularized_autoencoder",
        "description": "Overcomplete autoencoder 784-1000-784, tied, sigmoid code with KL sparsity penalty "
                       "(target mean activation 0.05).",
        "config": _config(hidden_units=[], latent_dim=1000, activation="sigmoid", latent_activation="sigmoid",
                       tied=True, sparsity_target=0.05, sparsity_weight=0.5),
        "train": dict(epochs=25, batch_size=128, learning_rate=2e-3),
    },
    "cae_mnist": {
        "class": ContractiveAutoencoder,
        "family": "regularized_autoencoder",
        "description": "Contractive autoencoder 784-500-784, tied, sigmoid code, penalty "
                       "lambda ||dh/dx||_F^2 in closed form.",
        "config": _config(hidden_units=[], latent_dim=500, activation="sigmoid", latent_activation="sigmoid",
                       tied=True, contractive_weight=0.1),
        "train": dict(epochs=30, batch_size=128, learning_rate=2e-3),
    },
}
