"""Errors a user sees as one line: each message names the thing that is wrong."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset operation failed; the message is the whole explanation."""


class UnknownVersionError(DatasetError):
    """No such dataset or version in the store."""


class StoreUnreachableError(DatasetError):
    """The dataset store cannot be reached or refused access."""


class GateFailedError(DatasetError):
    """Blocking quality gates failed: no version is written."""


class PullError(DatasetError):
    """A file of a version is missing or corrupted."""
