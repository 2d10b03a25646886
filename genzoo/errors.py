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


class SplitUnavailable(DataError):
    """This copy of a dataset holds no images of the requested split (e.g. a CelebA subset without test
    images, an image folder without test/): the split is absent, not damaged."""
