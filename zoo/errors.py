"""The one error type users catch: a clear message, never a deep traceback."""


class ZooError(ValueError):
    """Bad input, an unknown name, a missing or corrupt file: the message says what and what is expected."""


class DataUnavailable(ZooError):
    """No data set could be read: neither $ZOO_DATA_DIR nor keras.datasets had it."""


class NonFiniteLoss(ZooError):
    """Training produced a NaN or Inf loss, or diverged; the message gives the epoch and step."""
