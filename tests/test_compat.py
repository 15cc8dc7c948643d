"""zoo/compat.py overrides a private Keras hook to work around keras-team/keras#20585 (fit under
MultiWorkerMirroredStrategy). That is safe only for the Keras it was checked against: this fails loudly on any
other version, so whoever upgrades Keras re-examines the workaround (and tests/test_distributed.py) first."""

import keras

from zoo import compat


def test_keras_is_the_version_the_workaround_was_checked_against():
    assert keras.__version__ == compat.CHECKED_KERAS == "3.15.1", (
        f"Keras is {keras.__version__}, but zoo/compat.py's workaround for keras-team/keras#20585 was checked "
        f"against Keras {compat.CHECKED_KERAS}. Re-examine zoo/compat.py: check whether the issue is fixed (then "
        "delete MultiWorkerFit) or whether the private Trainer._maybe_symbolic_build it overrides still exists with "
        "the same signature; run tests/test_distributed.py; then update CHECKED_KERAS.")
    assert compat.keras_is_checked_version()

