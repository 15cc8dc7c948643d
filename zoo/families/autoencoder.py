"""Autoencoders: the undercomplete network that learns to copy its input through a code, and its
regularized kinds (tied weights, denoising, sparse, contractive, dropout), all one class.

With nonlinear layers and a cross-entropy loss it is the deep autoencoder of Hinton & Salakhutdinov (2006).
With no nonlinearity and a squared loss (`linear_ae_mnist`), its optimum spans the top-k principal subspace
of the data: PCA learned by gradient descent. Every regularizer is a config value and off by default:
- tied: decoder layer k reuses encoder layer (L - k)'s kernel transposed (DenseTranspose);
- noise: (kind, level) pairs; each training image is corrupted by one of them (denoising autoencoder);
- hidden_dropout, l1_weight, sparsity_weight (KL towards sparsity_target), contractive_weight.
Noise sits at the encoder's input and penalties on the code; both act only in training, so `encode` and
`reconstruct` always see the clean image.

`ImageAutoencoder` is this family's public base class: what every autoencoder-style model offers
(`encoder`, `decoder`, `encode`, `decode`, `reconstruct`, Keras-native `call` on any image layout). The VAE
family builds on it.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, figures, retrieval
from zoo.base import ExportPart, metric_report, ZooModel, batched
from zoo.errors import ZooError
from zoo.layers import (ContractivePenalty, DenseTranspose, KLSparsityRegularizer, L1ActivityRegularizer,
                        NoiseMixture, image_rows, jacobian_sq_norm, like_input, make_noise, noise_pairs,
                        reconstruction_terms, replica_mean, shift_augmentation)

LOSSES = ("bce", "mse")


class ImageAutoencoder(ZooModel):
    """Base of every autoencoder-style model. Subclasses build `self.encoder` (rows -> dict with "code",
    the deterministic code; VAEs add "z_log_var") and `self.decoder` (code -> pixel rows)."""

    family = "autoencoder"
    # the model boundary (zoo.base.ZooModel): images in, and evaluate's y, when it is images, the clean target
    input_kind = "images"
    target_kind = "images"

    # -- NumPy-facing API ---------------------------------------------------------------------------------
    def encode(self, x):
        """Images -> codes (N, latent_dim): the "code" output of the encoder (a VAE's posterior mean)."""
        rows, single = checks.as_images(x, "x")
        z = batched(lambda r: self.encoder(r, training=False)["code"], rows, self.predict_batch_size)
        return z[0] if single else z

    def decode(self, z):
        """Codes -> images (N, 28, 28), float in [0, 1]."""
        z, single = checks.as_latents(z, self.latent_dim, "z")
        out = batched(lambda c: self.decoder(c, training=False), z, self.predict_batch_size)
        out = out.reshape((-1,) + checks.IMAGE_SHAPE)
        return out[0] if single else out

    def reconstruct(self, x):
        """Images -> reconstructions, float in [0, 1], in the shape the images came in."""
        shape = np.shape(x)
        rows, _ = checks.as_images(x, "x")
        return batched(lambda r: self(r, training=False), rows, self.predict_batch_size).reshape(shape)

    # -- Keras-native path --------------------------------------------------------------------------------
    def call(self, x, training=False):
        rows = image_rows(x)
        code = self.encoder(rows, training=training)["code"]
        return like_input(self.decoder(code, training=training), x)

    @staticmethod
    def _target(x, y):
        """The image to reconstruct: y when it is an image batch (a denoiser's clean target), else x."""
        if y is not None and len(y.shape) >= 2:
            return image_rows(y)
        return image_rows(x)

    def inference_encoder(self):
        """A plain functional copy of the test-time path rows -> code (standard Keras layers only), for
        fine-tuning: corruption, dropout and penalty layers are left out."""
        raise NotImplementedError


def _dense_params(dims):
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(ImageAutoencoder):
    """Dense encoder input_dim -> hidden_units -> latent_dim and a mirrored decoder, regularizers optional.

    The decoder's last layer yields logits; `decoder` applies `output_activation`, and the loss uses the
    logits for a stable cross-entropy.
    """

    def __init__(self, input_dim=784, hidden_units=(512, 256), latent_dim=30, activation="relu",
                 latent_activation=None, output_activation="sigmoid", loss="bce", tied=False, noise=None,
                 hidden_dropout=0.0, l1_weight=0.0, sparsity_target=0.05, sparsity_weight=0.0,
                 contractive_weight=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        checks.one_of(loss, LOSSES, "loss")
        if loss == "bce" and output_activation != "sigmoid":
            raise ZooError("loss='bce' needs output_activation='sigmoid'")
        if isinstance(hidden_units, (int, str)):
            raise ZooError(f"hidden_units must be a list of positive integers, got {hidden_units!r}")
        hidden_units = [checks.count(u, "hidden_units entries") for u in hidden_units]
        latent_dim = checks.count(latent_dim, "latent_dim")
        input_dim = checks.count(input_dim, "input_dim")
        hidden_dropout = checks.number(hidden_dropout, "hidden_dropout", 0.0, 0.999)
        noise = noise_pairs(noise) if noise else None
        self._config = dict(input_dim=input_dim, hidden_units=hidden_units, latent_dim=latent_dim,
                            activation=activation, latent_activation=latent_activation,
                            output_activation=output_activation, loss=loss, tied=bool(tied), noise=noise,
                            hidden_dropout=hidden_dropout, l1_weight=checks.number(l1_weight, "l1_weight", 0.0),
                            sparsity_target=checks.number(sparsity_target, "sparsity_target", 0.0, 1.0, True),
                            sparsity_weight=checks.number(sparsity_weight, "sparsity_weight", 0.0),
                            contractive_weight=checks.number(contractive_weight, "contractive_weight", 0.0),
                            seed=checks.count(seed, "seed", 0))
        type(self).check_budget(self._config)
        c = self._config
        self.input_dim, self.latent_dim, self.loss_kind = input_dim, latent_dim, loss

        x = keras.Input((input_dim,), name="image")
        h = NoiseMixture(noise, seed=c["seed"], name="corruption")(x) if noise else x
        self.encoder_layers = []
        for i, units in enumerate(hidden_units + [latent_dim]):
            last = i == len(hidden_units)
            dense = keras.layers.Dense(units, activation=latent_activation if last else activation,
                                       name="code" if last else f"enc_{i}")
            below, h = h, dense(h)
            self.encoder_layers.append(dense)
            if last:
                if c["l1_weight"]:
                    h = L1ActivityRegularizer(c["l1_weight"], name="l1_activity")(h)
                if c["sparsity_weight"]:
                    h = KLSparsityRegularizer(c["sparsity_target"], c["sparsity_weight"], name="kl_sparsity")(h)
                if c["contractive_weight"]:
                    h = ContractivePenalty(dense, c["contractive_weight"], name="contractive")([below, h])
            if hidden_dropout:
                h = keras.layers.Dropout(hidden_dropout, seed=c["seed"] + 100 + i, name=f"dropout_{i}")(h)
        self.encoder = keras.Model(x, {"code": h}, name="encoder")

        z = keras.Input((latent_dim,), name="code")
        h = z
        mirrored = list(reversed(self.encoder_layers))
        for i, enc in enumerate(mirrored):
            last = i == len(mirrored) - 1
            act, name = (None, "logits") if last else (activation, f"dec_{i}")
            if tied:
                layer = DenseTranspose(enc, activation=act, name=name)
            else:
                layer = keras.layers.Dense(input_dim if last else int(mirrored[i + 1].units), activation=act,
                                           name=name)
            h = layer(h)
        self.decoder_logits = keras.Model(z, h, name="decoder_logits")
        pixels = keras.layers.Activation(output_activation or "linear", name="image")(h)
        self.decoder = keras.Model(z, pixels, name="decoder")

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.se_tracker = keras.metrics.Mean(name="squared_error")
        self.penalty_tracker = keras.metrics.Mean(name="penalty")
        self.finish(np.zeros((1, input_dim), np.float32), optimizer=keras.optimizers.Adam(1e-3))

    @classmethod
    def parameter_count(cls, config):
        dims = [int(config.get("input_dim", 784)), *[int(u) for u in config.get("hidden_units", (512, 256))],
                int(config.get("latent_dim", 30))]
        enc = _dense_params(dims)
        dec = sum(dims[:-1]) if config.get("tied") else _dense_params(dims[::-1])
        return enc + dec

    @property
    def metrics(self):
        return [self.loss_tracker, self.se_tracker, self.penalty_tracker]

    def _terms(self, rows, target, training):
        logits = self.decoder_logits(self.encoder(rows, training=training)["code"], training=training)
        return reconstruction_terms(target, logits, self.loss_kind, self._config["output_activation"])

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            rec, se = self._terms(image_rows(x), self._target(x, y), training=True)
            penalty = tf.add_n(self.losses) if self.losses else tf.constant(0.0)
            loss = replica_mean(rec) + penalty
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        self.penalty_tracker.update_state(penalty)
        return self.metric_logs()

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        rec, se = self._terms(image_rows(x), self._target(x, y), training=False)
        self.loss_tracker.update_state(rec)
        self.se_tracker.update_state(se)
        # Penalties are training-time terms: validation reports reconstruction alone.
        return self.metric_logs([self.loss_tracker, self.se_tracker])

    # -- figures for cards ------------------------------------------------------------------------------
    def test_metrics(self, x, y=None):
        """Per image on float rows x: squared error (raw output, as PCA is scored) and cross-entropy."""
        rows, _ = checks.as_images(x, "x")
        raw = batched(lambda r: self.decoder(self.encoder(r)["code"]), rows).astype(np.float64)
        xd = rows.astype(np.float64)
        rec = np.clip(raw, 1e-7, 1 - 1e-7)
        return {"squared_error_per_image": float(np.sum((raw - xd) ** 2, axis=1).mean()),
                "bce_per_image": float((-np.sum(xd * np.log(rec) + (1 - xd) * np.log(1 - rec), axis=1)).mean())}

    def reconstruct_rows(self, rows):
        """Reconstructions of float rows of any finite values (a noisy input may leave [0, 1])."""
        rows = checks.finite(np.asarray(rows, np.float32).reshape(len(rows), self.input_dim), "rows")
        return batched(lambda r: self.decoder(self.encoder(r)["code"]), rows)

    def is_linear(self):
        c = self._config
        return not c["hidden_units"] and c["latent_activation"] is None and c["output_activation"] is None

    def decoder_span(self):
        """(input_dim, latent_dim) basis of the decoder's output subspace."""
        layer = self.decoder_logits.get_layer("logits")
        return np.asarray(layer.kernel).T

    def jacobian_norms(self, rows):
        """||d code / d x||_F per image (exact batch Jacobian of the test-time encoder)."""
        return np.concatenate([np.sqrt(np.asarray(jacobian_sq_norm(
            lambda r: self.encoder(r, training=False)["code"], tf.constant(rows[i:i + 256]))))
            for i in range(0, len(rows), 256)])

    def inference_encoder(self):
        x = keras.Input((self.input_dim,), name="image")
        h = x
        for layer in self.encoder_layers:
            clone = keras.layers.Dense.from_config(layer.get_config())
            h = clone(h)
            clone.set_weights(layer.get_weights())
        return keras.Model(x, h, name="encoder")


# -- analysis helpers (numpy) -------------------------------------------------------------------------------
def pca(x, k):
    """Mean and top-k principal directions (k, d) of rows x: eigenvectors of the d x d scatter matrix, the
    same directions as the SVD of the centred data at a fraction of its cost on 15,000 rows."""
    mean = x.mean(axis=0)
    centred = x - mean
    _, vecs = np.linalg.eigh(centred.T @ centred)
    return mean, vecs[:, ::-1][:, :k].T


def principal_angles_deg(a, b):
    """Principal angles in degrees between the column spans of a (d, k) and b (d, k)."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    return np.degrees(np.arccos(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)))


def denoising_figures(clean, noisy, denoised):
    """Per-image squared error, per-pixel MSE and PSNR (dB, images in [0, 1]; mean over images)."""
    def figures_of(out):
        mse = np.mean((np.asarray(out, np.float64) - clean) ** 2, axis=1)
        return {"squared_error_per_image": round(float(mse.mean() * clean.shape[1]), 3),
                "mse_per_pixel": round(float(mse.mean()), 5),
                "psnr_db": round(float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12)))), 2)}
    return {"noisy_input": figures_of(noisy), "denoised": figures_of(denoised)}


def activation_figures(codes, threshold=0.01):
    return {"mean_activation": round(float(codes.mean()), 4),
            "fraction_near_zero": round(float((codes < threshold).mean()), 4),
            "near_zero_threshold": threshold,
            "units_never_above_threshold": int(np.sum(codes.max(axis=0) < threshold))}


EVAL_NOISE = (("gaussian", 0.25), ("gaussian", 0.5), ("masking", 0.25), ("masking", 0.5),
              ("salt_and_pepper", 0.25), ("salt_and_pepper", 0.5))


def corrupt(x, kind, level, seed):
    return np.asarray(make_noise(kind, level, seed=seed)(tf.constant(x), training=True))


# -- family hooks ---------------------------------------------------------------------------------------------
def card_metrics(model, data):
    """What the card reports beside the test error; cheap, and never trains another model."""
    x_train, x_test = data["train"][0].astype(np.float64), data["test"][0]
    out = {}
    k = model.latent_dim
    if k < model.input_dim:
        mean, components = pca(x_train, k)
        xt = x_test.astype(np.float64)
        rec = (xt - mean) @ components.T @ components + mean
        out["pca_baseline"] = {"k": k, "fitted_on": "train split",
                               "squared_error_per_image": round(float(np.sum((rec - xt) ** 2, 1).mean()), 4)}
        if model.is_linear():
            angles = principal_angles_deg(model.decoder_span(), components.T)
            out["pca_principal_angles_deg"] = {"max": round(float(angles.max()), 3),
                                               "mean": round(float(angles.mean()), 3)}
    c = model.get_config()
    if c["tied"]:
        untied = {**c, "tied": False}
        out["tied_weights"] = {"parameters": model.count_params_unique(),
                               "untied_equivalent_parameters": Autoencoder.parameter_count(untied)}
    if c["noise"]:
        table = {}
        for i, (kind, level) in enumerate(EVAL_NOISE):
            noisy = corrupt(x_test, kind, level, 1000 + i)
            table[f"{kind}_{level}"] = denoising_figures(x_test.astype(np.float64), noisy,
                                                         model.reconstruct_rows(noisy))
        out["denoising"] = {"split": "test", "results": table,
                            "note": "noise drawn with seeds 1000.. on every test image; gaussian is not clipped; "
                                    "psnr is the mean over images of 10 log10(1 / mse)"}
    if c["sparsity_weight"] or c["l1_weight"]:
        out["sparsity"] = {"split": "test", **activation_figures(model.encode(x_test))}
    if c["contractive_weight"]:
        norms = model.jacobian_norms(x_test[:1000])
        out["contraction"] = {"split": "test", "images": 1000,
                              "mean_jacobian_frobenius_norm": round(float(norms.mean()), 4)}
    return out


def pictures(model, data):
    """Reconstructions, first-layer features and (for a denoiser) noisy inputs over their denoised outputs."""
    kernel = np.asarray(model.encoder_layers[0].kernel).T
    units = (f"all {len(kernel)} first-layer units" if len(kernel) <= 100 else
             f"the first 100 of its {len(kernel)} first-layer units")
    figs = {"features.png": figures.filters(kernel[:100], title=f"{model.name}: input weights of {units}")}
    if data is None:
        return figs
    x = data["test"][0][:10]
    figs["reconstructions.png"] = figures.image_grid(
        np.concatenate([x, model.reconstruct(x)]), cols=10, row_labels=["test image", "reconstruction"],
        title=f"{model.name}: test images and their reconstructions")
    if model.get_config()["noise"]:
        rows, labels = [x], ["clean"]
        for i, kind in enumerate(("gaussian", "masking", "salt_and_pepper")):
            noisy = corrupt(x, kind, 0.5, 2000 + i)
            rows += [np.clip(noisy, 0, 1), model.reconstruct_rows(noisy)]
            labels += [f"{kind.replace('_', ' ')} 0.5", "denoised"]
        figs["denoising.png"] = figures.image_grid(np.concatenate(rows), cols=10, row_labels=labels,
                                                   title=f"{model.name}: noisy test images and their denoised outputs")
    return figs


def preview(model, data):
    return pictures(model, data).get("reconstructions.png")


def _codes(model, data, n, seed):
    x = data["train"][0] if data is not None else np.random.default_rng(seed).random((n, model.input_dim), np.float32)
    idx = np.random.default_rng(seed).choice(len(x), min(n, len(x)), replace=False)
    return x[np.sort(idx)]


def bce_per_image(x, p):
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    x = np.asarray(x, np.float64)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


def reconstruction_metric(data, encode, decode, chain):
    """BCE per image on the test split through encode -> decode, both given as (exported, keras) pairs."""
    if data is None:
        return None
    x = data["test"][0]

    def metric(runner):
        exported = bce_per_image(x, decode[0](encode[0](x, runner), runner))
        keras_value = bce_per_image(x, decode[1](encode[1](x, None), None))
        return metric_report("bce_per_image", exported, keras_value, digits=4, split="test", images=int(len(x)),
                             chain=chain)
    return metric


def export_parts(model, data):
    """encoder (image -> code), decoder (code -> image) and the whole autoencoder (image -> image)."""
    image = keras.Input((model.input_dim,), name="image")
    encoder = keras.Model(image, {"code": model.encoder(image)["code"]}, name="encoder")
    code = keras.Input((model.latent_dim,), name="code")
    decoder = keras.Model(code, {"image": model.decoder(code)}, name="decoder")
    image2 = keras.Input((model.input_dim,), name="image")
    whole = keras.Model(image2, {"image": model.decoder(model.encoder(image2)["code"])}, name="autoencoder")

    def images(n, seed):
        return [_codes(model, data, n, seed)]

    def codes(n, seed):
        return [model.encode(_codes(model, data, n, seed))]

    keras_enc = lambda x, _: model.encode(x)  # noqa: E731
    keras_dec = lambda z, _: model.decode(z).reshape(len(z), -1)  # noqa: E731
    run_enc = lambda x, runner: runner([x])[0]  # noqa: E731
    run_dec = lambda z, runner: runner([z])[0]  # noqa: E731

    def run_whole(x, runner):
        return runner([x])[0]

    return {
        "encoder": ExportPart(encoder, images, reconstruction_metric(
            data, (run_enc, keras_enc), (keras_dec, keras_dec), "exported encoder -> keras decoder"), 0.02),
        "decoder": ExportPart(decoder, codes, reconstruction_metric(
            data, (keras_enc, keras_enc), (run_dec, keras_dec), "keras encoder -> exported decoder"), 0.02),
        "autoencoder": ExportPart(whole, images, reconstruction_metric(
            data, (lambda x, r: x, lambda x, r: x), (run_whole, lambda x, _: model.reconstruct(x)),
            "exported autoencoder"), 0.02),
    }


def _pair(encoder_layer, decoder_layer, input_dim, name):
    x = keras.Input((input_dim,))
    return keras.Model(x, decoder_layer(encoder_layer(x)), name=name)


def pretrain_layerwise(model, x, epochs_per_layer, fit, batch_size=128, learning_rate=1e-3, seed=0):
    """Greedy layer-wise pretraining (Bengio et al. 2007), in place: each encoder layer is trained as the
    hidden layer of a one-hidden-layer autoencoder on the codes of the layers below, made of the stack's own
    layers (tied or not), so nothing is copied afterwards. The first pair reconstructs pixels with
    cross-entropy, upper pairs reconstruct codes with squared error. Returns each layer's final loss."""
    epochs_per_layer = checks.count(epochs_per_layer, "epochs_per_layer", 1, checks.MAX_EPOCHS)
    decoder_layers = [layer for layer in model.decoder_logits.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(decoder_layers) != len(model.encoder_layers):
        raise ZooError("the decoder does not mirror the encoder layer for layer")
    codes = np.asarray(x, np.float32)
    summary = []
    for i, enc in enumerate(model.encoder_layers):
        dec = decoder_layers[len(model.encoder_layers) - 1 - i]
        pair = _pair(enc, dec, codes.shape[1], name=f"pretrain_{enc.name}")
        loss = keras.losses.BinaryCrossentropy(from_logits=True) if i == 0 else "mse"
        history = fit(pair, (codes, codes), None, epochs=epochs_per_layer, batch_size=batch_size,
                      learning_rate=learning_rate, loss=loss, seed=seed + i, phase=f"pretrain_{i}")
        summary.append({"layer": enc.name, "input_dim": int(codes.shape[1]), "units": int(enc.units),
                        "loss": "bce" if i == 0 else "mse",
                        "final_loss": round(float(history["loss"][-1]), 5)})
        codes = batched(lambda r, layer=enc: layer(r), codes)
    return summary


def train(model, data, recipe, fit):
    """Layer-wise pretraining first when the recipe asks for it, then the usual fit of the whole model.

    recipe keys beyond fit's: layerwise_pretrain_epochs, lr_schedule, early_stopping, and shift (pixels): each
    training image, and so its target, moved by up to that many pixels, which on 15,000 images is what keeps a
    wide net from learning the training set instead of digits."""
    extra = {}
    augment = shift_augmentation(recipe.get("shift", 0))
    if recipe.get("layerwise_pretrain_epochs"):
        extra["layerwise_pretraining"] = pretrain_layerwise(
            model, data["train"][0], recipe["layerwise_pretrain_epochs"], fit,
            batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"], seed=recipe["seed"])
    history = fit(model, data["train"], data["val"], epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                  learning_rate=recipe["learning_rate"], seed=recipe["seed"], phase="main",
                  lr_schedule=recipe.get("lr_schedule", "constant"), early_stopping=recipe.get("early_stopping"),
                  augment=augment)
    return history, extra


# -- presets: plain dicts beside the model they configure ------------------------------------------------------


# `zoo neighbours NAME --image N --out fig.png`: nearest training images by the code (zoo.retrieval)
COMMANDS = {"neighbours": retrieval.neighbours_command()}
