"""A pretrained encoder with a classification head: the supervised fine-tuning step of greedy pretraining
(Hinton & Salakhutdinov 2006; Vincent et al. 2010), and the same network from random weights as the baseline
it is measured against.

The encoder is the autoencoder's `inference_encoder()`: a plain functional copy of its test-time path
(corruption, dropout and penalties left out; a VAE's mean path), so a classifier file holds nothing but
Keras classes and this one. The preset names the encoder it starts from (`requires`), and the registry
hands that model to `build`.
"""

import hashlib
import os

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, figures, io as zio, retrieval
from zoo.base import ExportPart, metric_report, ZooModel, batched
from zoo.compat import MultiWorkerFit
from zoo.errors import ZooError
from zoo.families.classifier_presets import few_label_config as finetune_config, few_label_recipe  # noqa: F401 (a hook)
from zoo.layers import image_rows, shift_augmentation
from zoo.layers.reduction import replica_mean

HEADS = ("linear", "mlp")


def weights_sha256(model):
    """sha256 of a model's weights, in order: which weights a fine-tuning started from, whatever file held them."""
    h = hashlib.sha256()
    for weight in model.weights:
        h.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    return h.hexdigest()


def encoder_source(model):
    """Where a classifier's encoder came from, for its card: the model's registered name (a zoo model keeps its
    preset's name), its class, and the file it was loaded from with that file's sha256 (the registry's `load`
    notes the file; a model built in this process, such as --from-scratch's random one, has none)."""
    path = getattr(model, "zoo_file", None)
    shown = path and os.path.relpath(path)   # saved_models/NAME/model.keras, not this machine's absolute path
    return {"encoder": model.name, "encoder_class": type(model).__name__,
            "encoder_file": (path if shown.startswith("..") else shown) if path else None,
            "encoder_file_sha256": zio.sha256(path) if path else None,
            "encoder_weights": ("loaded from encoder_file" if path else
                                "built in this process, not loaded from a file (random unless trained here)")}


def check_freeze(freeze, num_layers):
    """freeze is "all", "none" or an int in [0, num_layers]; returns how many leading layers to freeze."""
    if freeze == "all":
        return num_layers
    if freeze in ("none", None):
        return 0
    if isinstance(freeze, (bool, np.bool_)) or not isinstance(freeze, (int, np.integer)):
        raise ZooError(f"freeze must be 'all', 'none' or a number of encoder layers, got {freeze!r}")
    if not 0 <= int(freeze) <= num_layers:
        raise ZooError(f"freeze={freeze} is out of range: the encoder has {num_layers} layers with weights")
    return int(freeze)


@keras.saving.register_keras_serializable(package="zoo")
class EncoderClassifier(ZooModel):
    """encoder (rows -> code) followed by a head (code -> class probabilities).

    head "linear" is a softmax layer on the batch-normalised code; "mlp" adds one hidden ReLU layer. dropout
    applies just before the softmax layer. freeze: the whole encoder ("all"), none of it ("none") or its
    first N layers with weights.
    """

    family = "classifier"
    conditional = False
    target_kind = "labels"

    @property
    def input_kind(self):
        # A zoo autoencoder's encoder names its input "image" (pixels in [0, 1]); an encoder of the user's own
        # rows (any features, any scale) gets the generic check: the right width, finite values.
        return "images" if self.encoder.inputs[0].name.split(":")[0] == "image" else "rows"

    def __init__(self, encoder=None, num_classes=10, head="linear", head_units=256, dropout=0.0, freeze="all",
                 seed=0, **kwargs):
        super().__init__(**kwargs)
        if encoder is None:
            raise ZooError("a classifier is built on an encoder: zoo.create_model('mnist_classifier', "
                           "encoder='ae_mnist') or zoo.classifier('ae_mnist')")
        if isinstance(encoder, dict):
            type(self).check_budget({"encoder": encoder})
            encoder = keras.saving.deserialize_keras_object(encoder)
        if not isinstance(encoder, keras.Model) or len(encoder.inputs) != 1 or len(encoder.outputs) != 1:
            raise ZooError("encoder must be a functional keras.Model with one input and one output")
        checks.one_of(head, HEADS, "head")
        num_classes = checks.count(num_classes, "num_classes", 2, 10_000)
        self.encoder = encoder
        self.input_dim = int(encoder.inputs[0].shape[-1])
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.num_classes = num_classes
        self._config = dict(num_classes=num_classes, head=head, head_units=checks.count(head_units, "head_units"),
                            dropout=checks.number(dropout, "dropout", 0.0, 0.999), seed=checks.count(seed, "seed", 0))
        z = keras.Input((self.latent_dim,), name="code")
        # Codes are unnormalised (a linear code reaches magnitudes in the tens), which would start a softmax
        # head saturated. Synchronized, so a multi-replica run normalises with the global batch's statistics.
        h = keras.layers.BatchNormalization(synchronized=True, name="code_norm")(z)
        if head == "mlp":
            h = keras.layers.Dense(head_units, activation="relu", name="head_hidden",
                                   kernel_initializer=keras.initializers.HeUniform(seed=seed + 1))(h)
        if dropout:
            h = keras.layers.Dropout(dropout, seed=seed + 2, name="head_dropout")(h)
        logits = keras.layers.Dense(num_classes, name="logits",
                                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3))(h)
        # float32 softmax, so probabilities stay exact under mixed precision
        probs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
        self.head = keras.Model(z, probs, name="head")
        self.set_freeze(freeze)
        self.finish(np.zeros((1, self.input_dim), np.float32))

    @classmethod
    def from_encoder(cls, model, **config):
        """A classifier on a zoo autoencoder's test-time encoder."""
        if isinstance(model, EncoderClassifier):
            raise ZooError(f"{model.name} is already a classifier; pass an autoencoder")
        if not hasattr(model, "inference_encoder"):
            raise ZooError(f"{model.name} ({type(model).__name__}) has no encoder to fine-tune")
        clf = cls(model.inference_encoder(), **config)
        clf.encoder_source = encoder_source(model)
        return clf

    @classmethod
    def parameter_count(cls, config):
        total, width = 0, None
        for layer in (config.get("encoder") or {}).get("config", {}).get("layers", []):
            lc = layer.get("config", {})
            if layer.get("class_name") == "InputLayer":
                shape = lc.get("batch_shape") or lc.get("batch_input_shape") or [None, 0]
                width = int(shape[-1] or 0)
            elif layer.get("class_name") == "Dense":
                units = int(lc.get("units", 0))
                total += (width or 0) * units + units
                width = units
        # The head too: a file asking for head_units=10**8 must be refused before Keras allocates it.
        width = width or 0
        total += 4 * width  # the code's batch normalisation
        if config.get("head", "linear") == "mlp":
            units = int(config.get("head_units", 256))
            total += width * units + units
            width = units
        classes = int(config.get("num_classes", 10))
        return total + width * classes + classes

    # -- freezing -------------------------------------------------------------------------------------------
    def encoder_weight_layers(self):
        return [layer for layer in self.encoder.layers if layer.weights]

    def set_freeze(self, freeze):
        """Freeze the whole encoder ("all"), nothing ("none") or its first N layers with weights. Compile
        again afterwards: Keras fixes the trainable set when it compiles."""
        layers = self.encoder_weight_layers()
        n = check_freeze(freeze, len(layers))
        for i, layer in enumerate(layers):
            layer.trainable = i >= n
        return self

    @property
    def freeze(self):
        layers = self.encoder_weight_layers()
        n = next((i for i, layer in enumerate(layers) if layer.trainable), len(layers))
        return "all" if n == len(layers) else "none" if n == 0 else n

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "freeze": self.freeze}

    # -- Keras-native path ----------------------------------------------------------------------------------
    def call(self, x, training=False):
        return self.head(self.encoder(image_rows(x), training=training), training=training)

    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Adam, sparse categorical cross-entropy on the probabilities, and accuracy, unless told otherwise."""
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3),
                        loss=loss or keras.losses.SparseCategoricalCrossentropy(),
                        metrics=metrics if metrics is not None else
                        [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], **kwargs)

    # -- NumPy-facing API -----------------------------------------------------------------------------------
    def predict_proba(self, x):
        rows, single = checks.as_images(x, "x")
        p = batched(lambda r: self(r, training=False), rows, self.predict_batch_size)
        return p[0] if single else p

    def classify(self, x):
        return np.argmax(self.predict_proba(x), axis=-1)

    def encode(self, x):
        rows, single = checks.as_images(x, "x")
        z = batched(lambda r: self.encoder(r, training=False), rows, self.predict_batch_size)
        return z[0] if single else z

    def confusion(self, x, y):
        rows, _ = checks.as_images(x, "x")
        y = checks.as_labels(y, len(rows), self.num_classes, "y")
        m = np.zeros((self.num_classes, self.num_classes), np.int64)
        np.add.at(m, (y, np.argmax(self.predict_proba(rows), axis=-1)), 1)
        return m

    def test_metrics(self, x, y=None):
        m = self.confusion(x, y)
        acc = float(np.trace(m) / m.sum())
        return {"accuracy": acc, "error": 1.0 - acc}


# -- few labels: virtual adversarial training on the unlabelled images -----------------------------------------
def _normalized(v):
    return v / (tf.norm(v, axis=-1, keepdims=True) + 1e-12)


def _hits(labels, probs):
    return tf.cast(tf.equal(tf.cast(labels, tf.int64), tf.argmax(probs, axis=-1)), tf.float32)


def _kl(p, q):
    """Per-example KL(p || q) of two batches of class probabilities."""
    return tf.reduce_sum(p * (tf.math.log(p + 1e-8) - tf.math.log(q + 1e-8)), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class VirtualAdversarialTraining(MultiWorkerFit, keras.Model):
    """Trains a classifier on a few labelled images and many unlabelled ones (Miyato et al. 2018, VAT).

    The loss is the cross-entropy on a labelled batch, plus `weight` times the virtual adversarial loss on an
    unlabelled batch: KL(p(y|x) || p(y|x + r_adv)), where r_adv is the pixel perturbation of L2 length
    `epsilon` that changes the prediction most. One power iteration finds it: the gradient of the KL at a
    random direction of length `xi` approximates the dominant eigenvector of the KL's Hessian. No labels are
    needed for it, so every unlabelled image teaches the classifier to be smooth around itself, which pushes
    the decision boundaries into the gaps between the digits' clusters. `entropy_weight` adds the entropy of
    the unlabelled predictions (VAT + entropy minimisation).

    fit on (labelled images, labels, unlabelled images) batches; validation takes (images, labels). The
    classifier is trained in place; this wrapper holds no weights of its own, only the loss trackers.
    """

    def __init__(self, classifier, epsilon=2.0, xi=1e-6, weight=1.0, entropy_weight=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(classifier, dict):
            classifier = keras.saving.deserialize_keras_object(classifier)
        if not isinstance(classifier, EncoderClassifier):
            raise ZooError("VirtualAdversarialTraining trains an EncoderClassifier, got "
                           f"{type(classifier).__name__}")
        self.classifier = classifier
        self._config = dict(epsilon=checks.number(epsilon, "vat_epsilon", 0.0, 100.0, strict_min=True),
                            xi=checks.number(xi, "vat_xi", 0.0, 100.0, strict_min=True),
                            weight=checks.number(weight, "vat_weight", 0.0, 1000.0),
                            entropy_weight=checks.number(entropy_weight, "entropy_weight", 0.0, 1000.0),
                            seed=checks.count(seed, "seed", 0))
        names = ("loss", "cross_entropy", "vat", "entropy", "accuracy")
        self.trackers = {k: keras.metrics.Mean(name=k) for k in names}

    @property
    def num_classes(self):
        return self.classifier.num_classes

    def get_config(self):
        return {**super().get_config(), "classifier": keras.saving.serialize_keras_object(self.classifier),
                **self._config}

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def adversarial_direction(self, rows, p):
        """r_adv for each row (length epsilon), given the rows' predicted probabilities p (held constant)."""
        c = self._config
        seed = tf.stack([tf.constant(c["seed"], tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])
        d = c["xi"] * _normalized(tf.random.stateless_normal(tf.shape(rows), seed=seed))
        with tf.GradientTape() as tape:
            tape.watch(d)
            divergence = tf.reduce_sum(_kl(p, self.classifier(rows + d, training=True)))
        return c["epsilon"] * _normalized(tf.stop_gradient(tape.gradient(divergence, d)))

    def train_step(self, data):
        x, y, unlabelled = data
        x, unlabelled = image_rows(x), image_rows(unlabelled)
        c = self._config
        p = tf.stop_gradient(self.classifier(unlabelled, training=True))
        r_adv = self.adversarial_direction(unlabelled, p)
        variables = self.classifier.trainable_variables
        with tf.GradientTape() as tape:
            probs = self.classifier(x, training=True)
            ce = keras.losses.sparse_categorical_crossentropy(y, probs)
            pu = self.classifier(unlabelled, training=True)
            vat = _kl(tf.stop_gradient(pu), self.classifier(unlabelled + r_adv, training=True))
            entropy = -tf.reduce_sum(pu * tf.math.log(pu + 1e-8), axis=-1)
            loss = (replica_mean(ce) + c["weight"] * replica_mean(vat)
                    + c["entropy_weight"] * replica_mean(entropy))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._track(loss=loss, cross_entropy=ce, vat=vat, entropy=entropy, accuracy=_hits(y, probs))

    def test_step(self, data):
        # validation images have labels: only the supervised measures, so no val_vat of zeros is reported
        x, y = data[:2]
        probs = self.classifier(image_rows(x), training=False)
        ce = keras.losses.sparse_categorical_crossentropy(y, probs)
        return self._track(loss=tf.reduce_mean(ce), cross_entropy=ce, accuracy=_hits(y, probs))

    def _track(self, **values):
        """Updates the named trackers and reports those alone."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return self.metric_logs([self.trackers[name] for name in values])

    @property
    def metrics(self):
        return list(self.trackers.values())


def tiled_labelled(x, y, n, seed):
    """The labelled set repeated to n rows, each repeat in a fresh seeded order, so that every batch of a fit
    over (labelled, labels, unlabelled) meets labelled images as uniformly as its unlabelled ones."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-n // len(x)))])[:n]
    return x[order], y[order]


# -- fine-tuning: the family's train hook --------------------------------------------------------------------
def sample_labelled(y, n, seed=0):
    """Indices of n class-balanced labelled examples (n // C per class, the remainder one each to classes a
    seeded permutation puts first); sorted, and the same for the same (y, n, seed)."""
    y = np.asarray(y)
    classes = np.unique(y)
    n = checks.count(n, "the number of labels", 1, len(y))
    rng = np.random.default_rng(seed)
    per, extra = divmod(n, len(classes))
    bonus = set(rng.permutation(len(classes))[:extra].tolist())
    chosen = []
    for i, c in enumerate(classes):
        pool = np.flatnonzero(y == c)
        k = per + (i in bonus)
        if k > len(pool):
            raise ZooError(f"asked for {k} examples of class {c} but only {len(pool)} are available")
        chosen.append(rng.permutation(pool)[:k])
    return np.sort(np.concatenate(chosen))


UNLABELLED = ("none", "vat")


def train(model, data, recipe, fit):
    """Fine-tuning: the head with the encoder frozen, then everything at a lower rate with a cosine decay.

    recipe: epochs_head, epochs (end to end), lr_head, learning_rate, batch_size, shift (pixels), labels
    (None: all; else that many class-balanced training labels, drawn with the recipe's seed), unlabelled
    ("none", or "vat": every training image, labelled or not, also trains the classifier through virtual
    adversarial training, with vat_epsilon, vat_weight and entropy_weight).

    The card must say what ran, not what a preset proposed: the recipe that ran (few-label defaults applied,
    each phase's epochs, rate, schedule, freezing and batch size) is written back into `recipe`, which the
    caller records as the run's training settings, and returned as the card's "fine_tuning" with the encoder
    the run started from (name, file, sha256s), the head, and the labels drawn."""
    x, y = data["train"]
    pool = x
    labels = recipe.get("labels")
    unlabelled = checks.one_of(recipe.get("unlabelled", "none"), UNLABELLED, "unlabelled")
    if unlabelled != "none" and labels is None:
        raise ZooError(f"unlabelled={unlabelled!r} learns from the images whose labels are left out; give a number "
                       "of labels as well (--labels 100)")
    run = dict(recipe)
    if labels is not None:
        idx = sample_labelled(y, labels, recipe["seed"])
        x, y = x[idx], y[idx]
        # Small labelled sets need many short epochs; what the user set stays.
        run.update({k: v for k, v in few_label_recipe(len(x), unlabelled).items()
                    if k not in recipe.get("user_set", ())})
    augment = shift_augmentation(run.get("shift", 0))
    if unlabelled == "vat":
        # the whole network from the first step: the perturbation is in pixels, so the encoder must follow
        phases = [("vat", run["epochs"], run["learning_rate"], "none", "cosine", run["batch_size"])]
    else:
        batch_size = int(min(run["batch_size"], len(x)))
        phases = [("head", run.get("epochs_head", 0), run.get("lr_head", 1e-2), "all", "constant", batch_size),
                  ("all", run["epochs"], run["learning_rate"], "none", "cosine", batch_size)]
    ran = ran_recipe(run, phases, unlabelled)
    extra = {"requires": {"encoder": ran_encoder_name(model)}, "labelled_examples": int(len(x)),
             "fine_tuning": fine_tuning_record(model, ran, labels, len(x), unlabelled, len(pool))}
    if unlabelled == "vat":
        extra["unlabelled_examples"] = int(len(pool))
    # zoo.training.train writes `recipe` on the card as the run's settings: from here on it is what runs.
    recipe.clear()
    recipe.update(ran)
    histories = {}
    for phase, epochs, lr, freeze, schedule, batch_size in phases:
        if not epochs:
            continue
        model.set_freeze(freeze)
        if phase == "vat":
            with model.distribute_strategy.scope():
                trainer = VirtualAdversarialTraining(model, epsilon=run["vat_epsilon"], weight=run["vat_weight"],
                                                     entropy_weight=run["entropy_weight"], seed=run["seed"])
            xl, yl = tiled_labelled(x, y, len(pool), run["seed"])
            histories[phase] = fit(trainer, (xl, yl, pool), data["val"], epochs=epochs, batch_size=batch_size,
                                   learning_rate=lr, seed=run["seed"], phase=phase, lr_schedule=schedule,
                                   augment=augment)
        else:
            histories[phase] = fit(model, (x, y), data["val"], epochs=epochs, batch_size=batch_size,
                                   learning_rate=lr, seed=run["seed"], phase=phase, lr_schedule=schedule,
                                   augment=augment)
    return histories.get("vat") or histories.get("all") or histories.get("head"), extra


# What the hook reads from a recipe besides the phases' own settings; anything else a recipe holds ran nowhere.
RECIPE_KEYS = ("seed", "validation", "labels", "unlabelled", "shift", "user_set")
VAT_KEYS = ("vat_epsilon", "vat_weight", "entropy_weight")


def ran_recipe(run, phases, unlabelled):
    """The recipe as it ran: each phase's epochs, rate, schedule and freezing (a phase of 0 epochs keeps only
    its count: its rate never applied), the batch size used, and the keys the hook read."""
    ran = {k: run[k] for k in RECIPE_KEYS if k in run}
    if unlabelled == "vat":
        ran.update({k: run[k] for k in VAT_KEYS}, epochs_head=0)
    for phase, epochs, lr, freeze, schedule, batch_size in phases:
        suffix = "_head" if phase == "head" else ""
        ran[f"epochs{suffix}"] = int(epochs)
        if epochs:
            ran.update({f"{'lr_head' if suffix else 'learning_rate'}": lr, f"lr_schedule{suffix}": schedule,
                        f"freeze{suffix}": freeze, "batch_size": batch_size})
    ran.setdefault("batch_size", phases[-1][-1])
    return ran


def ran_encoder_name(model):
    """The card's `requires` encoder: the model's name when its weights came from a file, else what they are."""
    source = getattr(model, "encoder_source", None) or {}
    if "encoder" not in source:
        return "not recorded (the classifier was not built by zoo.create_model or from_encoder)"
    if not source.get("encoder_file"):
        return f"{source['encoder']}'s architecture, with weights not loaded from a file (--from-scratch: random)"
    return source["encoder"]


def fine_tuning_record(model, ran, labels, labelled, unlabelled, pool):
    """The card's "fine_tuning": the encoder the run starts from, the head, the labels and how they were drawn,
    what was done with the other images, and the recipe as it ran. Flat, so the card's README lists it all."""
    config = model.get_config()
    source = dict(getattr(model, "encoder_source", None) or {"encoder": ran_encoder_name(model)})
    head = {"head": config["head"], "dropout": config["dropout"]}
    if config["head"] == "mlp":
        head["head_units"] = config["head_units"]
    drawn = ({"labels": "all", "labelled_examples": int(labelled)} if labels is None else
             {"labels": int(labels), "label_seed": int(ran["seed"]), "labelled_examples": int(labelled),
              "label_draw": "class-balanced: zoo.families.classifier.sample_labelled(train labels, labels, "
                            "label_seed)"})
    return {**source, "encoder_weights_sha256": weights_sha256(model.encoder),
            "encoder_layers": [int(model.input_dim)] + [int(layer.units) for layer in model.encoder_weight_layers()
                                                        if hasattr(layer, "units")],
            **head, **drawn,
            "unlabelled": unlabelled, **({"unlabelled_examples": int(pool)} if unlabelled != "none" else {}),
            **{k: v for k, v in ran.items() if k not in ("labels", "unlabelled", "user_set")}}


def card_metrics(model, data):
    return {}


def pictures(model, data):
    if data is None:
        return {}
    x, y = data["test"]
    return {"confusion.png": figures.confusion_matrix(
        model.confusion(x, y), class_names=[str(k) for k in range(model.num_classes)],
        title=f"{model.name}: confusion matrix on the test split")}


def preview(model, data):
    return pictures(model, data).get("confusion.png")


def export_parts(model, data):
    """The whole classifier, images -> class probabilities."""
    image = keras.Input((model.input_dim,), name="image")
    part = keras.Model(image, {"probabilities": model(image, training=False)}, name="classifier")

    def inputs(n, seed):
        rng = np.random.default_rng(seed)
        if data is None:
            return [rng.random((n, model.input_dim), dtype=np.float32)]
        x = data["train"][0]
        return [x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]]

    def metric(runner):
        if data is None:
            return None
        x, y = data["test"]
        exported = float(np.mean(np.argmax(runner([x])[0], axis=-1) == y))
        keras_value = float(np.mean(model.classify(x) == y))
        return metric_report("accuracy", exported, keras_value, digits=4, split="test", images=int(len(x)),
                             chain="exported classifier")

    return {"classifier": ExportPart(part, inputs, metric, 0.01)}


def build(config, requires):
    """The preset's builder: the classifier on the required encoder model."""
    return EncoderClassifier.from_encoder(requires["encoder"], **config)




# `zoo neighbours NAME --image N --out fig.png`: nearest training images by the penultimate features (zoo.retrieval)
COMMANDS = {"neighbours": retrieval.neighbours_command("penultimate")}
