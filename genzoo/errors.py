"""Errors a user can cause. The CLI prints their message (no traceback) and exits non-zero."""


class GenzooError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ConfigError(GenzooError):
    """A bad model name, config key, value or command-line combination."""


class DataError(GenzooError):
    """Missing, corrupt, truncated or mismatched dataset files."""


class CheckpointError(GenzooError):
    """A run folder or checkpoint that cannot be read or written."""


class TrainingError(GenzooError):
    """Training cannot go on (e.g. a NaN/inf loss)."""
