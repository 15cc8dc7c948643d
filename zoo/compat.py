"""The one place for a Keras workaround, with a version check.

Keras 3.15's `fit` does not run under `tf.distribute.MultiWorkerMirroredStrategy` (keras-team/keras#20585):
it builds the model by reducing one distributed batch eagerly with MEAN, which the multi-worker strategy
cannot do, and it reduces scalar logs over an axis they lack. No public switch avoids either, so
`MultiWorkerFit` overrides the private build hook for that strategy alone. `tests/test_compat.py` fails
loudly when Keras moves past the version this was checked against, so the workaround is re-examined then.
"""

import keras
import tensorflow as tf

from zoo.errors import ZooError

CHECKED_KERAS = "3.15.1"


def keras_is_checked_version():
    return keras.__version__ == CHECKED_KERAS


def _is_multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


class MultiWorkerFit:
    """Mixin for zoo models with their own train_step: lets `fit` run under MultiWorkerMirroredStrategy."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # The build needs only shapes and dtypes, so one replica's local share of the batch serves as well.
        strategy = self.distribute_strategy
        if iterator is not None and _is_multiworker(strategy):
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def metric_logs(self, metrics=None):
        """What train_step and test_step return: each tracker's result."""
        logs = {m.name: m.result() for m in (self.metrics if metrics is None else metrics)}
        if _is_multiworker(self.distribute_strategy):
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs


def check_fit_supported(model, strategy):
    """Keras' built-in train step (a classifier's, a layer-wise pretraining pair's) still hits #20585 under the
    multi-worker strategy; refuse it with a clear message instead of a deep traceback."""
    own_step = any("train_step" in klass.__dict__ for klass in type(model).__mro__
                   if not klass.__module__.startswith("keras"))
    if _is_multiworker(strategy) and not (isinstance(model, MultiWorkerFit) and own_step):
        raise ZooError(f"{model.name} trains with Keras' built-in train step, which does not run under "
                       "MultiWorkerMirroredStrategy in Keras 3.15 (keras-team/keras#20585); use --strategy "
                       "default or mirrored")
