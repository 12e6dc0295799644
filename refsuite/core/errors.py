"""The exceptions refsuite raises; one root so callers can catch them all."""


class RefsuiteError(Exception):
    """Root of every error refsuite raises on purpose."""


class UsageError(RefsuiteError):
    """The user asked for something that cannot be given (unknown device, missing dataset...)."""


class DuplicateUnitError(RefsuiteError):
    """Two providers registered a unit with the same id."""


class DatasetError(RefsuiteError):
    """A dataset is missing, incomplete or corrupt on disk."""
