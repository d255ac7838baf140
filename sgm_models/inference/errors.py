"""Why inference could not run: one-line messages for users, never tracebacks."""

from __future__ import annotations


class InferenceError(Exception):
    """Inference could not run or answer; the message is one line a user can act on."""


class UnknownModel(InferenceError):
    """The registry has no such model, alias or version."""


class BackendFailed(InferenceError):
    """The model (in-process or remote) raised, refused the request, or did not answer in time."""
