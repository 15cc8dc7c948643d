"""The one place for a Keras workaround, with a version check.

Keras 3.15's `fit` does not run under `tf.distribute.MultiWorkerMirroredStrategy` (keras-team/keras#20585):
it builds the model by reducing one distributed batch eagerly with MEAN, which the multi-worker strategy
cannot do, and it reduces scalar logs over an axis they lack. No public switch avoids either, so
`MultiWorkerFit` overrides the private build hook for that strategy alone. `tests/test_compat.py` fails
loudly when Keras moves past the version this was checked against, so the workaround is re-examined then.

Running is not being right: a model may train under the workaround and still not give a single process's
weights (noise drawn per worker, statistics averaged per worker). So multi-worker training is refused for every
class except those a test proves equal to a single process (MULTIWORKER_PROVEN, with the configs it covers).
"""

import keras
import tensorflow as tf

from zoo.errors import ZooError

CHECKED_KERAS = "3.15.1"


def keras_is_checked_version():
    return keras.__version__ == CHECKED_KERAS


def is_multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


class MultiWorkerFit:
    """Mixin for zoo models with their own train_step: lets `fit` run under MultiWorkerMirroredStrategy."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # The build needs only shapes and dtypes, so one replica's local share of the batch serves as well.
        strategy = self.distribute_strategy
        if iterator is not None and is_multiworker(strategy):
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def metric_logs(self, metrics=None):
        """What train_step and test_step return: each tracker's result."""
        logs = {m.name: m.result() for m in (self.metrics if metrics is None else metrics)}
        if is_multiworker(self.distribute_strategy):
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs


def _plain_autoencoder(config):
    """The configs tests/test_distributed.py's two-worker run covers: an untied autoencoder with no corruption,
    dropout or penalty (activations, losses and sizes vary freely). Noise and dropout are drawn per worker, the KL
    sparsity's mean activation is a per-worker statistic, and tied weights and the other penalties are untested."""
    extras = [k for k in ("tied", "noise", "hidden_dropout", "l1_weight", "sparsity_weight", "contractive_weight")
              if config.get(k)]
    if extras:
        return (f"the two-worker test proves a plain autoencoder only, and this one sets {', '.join(extras)} "
                "(noise and dropout are drawn per worker, a sparsity target is a per-worker batch statistic)")
    return None


# The classes whose multi-worker training a test proves equal to a single process's (within float tolerance),
# each with a check of the configs that test covers. Anything else -- a new family, a subclass of a listed class,
# a pair or trainer a train hook builds -- is refused until a test proves it and it is listed here.
MULTIWORKER_PROVEN = {
    # tests/test_distributed.py::test_two_worker_processes_match_single_process
    "zoo>Autoencoder": _plain_autoencoder,
}

# Why the others are not simply listed: what a multi-worker test of theirs would have to overcome first.
MULTIWORKER_BLOCKERS = {
    "zoo>VAE": "each worker draws its own reparameterisation noise, so no single process draws the same numbers",
    "zoo>ConditionalVAE": "each worker draws its own reparameterisation noise, so no single process draws the "
                          "same numbers",
    "zoo>GAN": "each worker draws its own generator noise, and its scalar logs are not reshaped for "
               "keras-team/keras#20585",
    "zoo>ConditionalGAN": "each worker draws its own generator noise, and its scalar logs are not reshaped for "
                          "keras-team/keras#20585",
    "zoo>RBM": "each worker averages its contrastive-divergence statistics over its own share and the shares are "
               "summed, and its scalar logs are not reshaped for keras-team/keras#20585",
    "zoo>Perceptron": "Rosenblatt's rule updates the weights example by example, in order: there is no gradient "
                      "to split between workers",
    "zoo>Word2Vec": "each worker averages its loss over its own share of a step's variable number of (center, "
                    "context) rows, which is not the global mean when the shares differ",
    "zoo>SVDWordVectors": "it is fitted by one SVD in one process, not by fit",
    "zoo>DQN": "it learns in its own loop of environment steps, one process's",
}


def multiworker_refusal(klass, config=None):
    """None when a model of class `klass` with `config` may train under MultiWorkerMirroredStrategy, else why
    not (one clause)."""
    try:
        registered = keras.saving.get_registered_name(klass)
    except Exception:  # noqa: BLE001 -- whatever Keras makes of an odd class, it is not on the list
        registered = getattr(klass, "__name__", str(klass))
    if registered in MULTIWORKER_PROVEN:
        return MULTIWORKER_PROVEN[registered](dict(config or {}))
    if registered in MULTIWORKER_BLOCKERS:
        return MULTIWORKER_BLOCKERS[registered]
    own_step = any("train_step" in k.__dict__ for k in klass.__mro__ if not k.__module__.startswith("keras"))
    if not (issubclass(klass, MultiWorkerFit) and own_step):
        return ("it trains with Keras' built-in train step, which does not run under MultiWorkerMirroredStrategy "
                "in Keras 3.15 (keras-team/keras#20585)")
    return "no multi-worker test proves that its training gives a single process's weights"


def check_multiworker(klass, config, strategy, what):
    """Refuse, in one line naming `what` (the family and model) and the reason, a class whose multi-worker
    training is not proven (MULTIWORKER_PROVEN); nothing under any other strategy."""
    if not is_multiworker(strategy):
        return
    reason = multiworker_refusal(klass, config)
    if reason:
        raise ZooError(f"{what} cannot train under --strategy multiworker: {reason}; use --strategy default or "
                       "mirrored")


def check_fit_supported(model, strategy):
    """fit's own check, for every model it is handed (a train hook's pretraining pairs and trainers included)."""
    if not is_multiworker(strategy):
        return
    family = getattr(model, "family", None)
    what = f"{family + ' model ' if family else ''}{model.name} ({type(model).__name__})"
    config = model.get_config() if hasattr(model, "_config") else {}
    check_multiworker(type(model), config, strategy, what)
