"""What model commands tell a user in one line."""

from __future__ import annotations


class ModelError(Exception):
    """A model operation refused; the message is the one line to show."""


class UnknownModel(ModelError):
    """No registered model of that name."""


class UnknownAlias(ModelError):
    """The registered model has no version under that alias (or no such version)."""


class NotBetterThanTrivial(ModelError):
    """A trained detector that does not beat the trivial baseline on the held-out split is not registered."""


class NoHeldOutLesions(ModelError):
    """The dataset version's test split has no lesion: no FROC to measure a detector (nor the trivial one) by."""
