"""Inference backends: the registered model in this process, or a remote server speaking `/invocations`."""

from __future__ import annotations

from emr_core.settings import Settings
from sgm_datasets.site import tracking_uri
from sgm_models.inference.backends import Backend, InProcessBackend, RemoteBackend, RetryPolicy
from sgm_models.inference.errors import BackendFailed, InferenceError, UnknownModel
from sgm_models.inference.registry import ResolvedModel, resolve_model, resolve_version

__all__ = [
    "Backend",
    "BackendFailed",
    "InProcessBackend",
    "InferenceError",
    "RemoteBackend",
    "ResolvedModel",
    "RetryPolicy",
    "UnknownModel",
    "configured_version",
    "open_backend",
    "resolve_model",
    "resolve_version",
]


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        connect_timeout=settings.inference_connect_timeout,
        read_timeout=settings.inference_read_timeout,
        retries=settings.inference_retries,
        backoff_seconds=settings.inference_backoff_seconds,
    )


def configured_version(settings: Settings) -> str:
    """The version SGM_DETECTOR_MODEL_NAME at SGM_INFERENCE_MODEL_ALIAS names now."""
    return resolve_version(tracking_uri(settings), settings.detector_model_name, settings.inference_model_alias)


def open_backend(settings: Settings, alias: str | None = None) -> Backend:
    """The configured model version (alias resolved now), remote when SGM_INFERENCE_REMOTE_URL is set."""
    model = resolve_model(tracking_uri(settings), settings.detector_model_name, alias or settings.inference_model_alias)
    if settings.inference_remote_url:
        return RemoteBackend(model, settings.inference_remote_url, retry_policy(settings), settings.inference_workers)
    return InProcessBackend(model)
