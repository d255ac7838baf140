"""Resolve `NAME@ALIAS` (or `NAME` + version) in the MLflow registry to a concrete version and its metadata."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from detection.contract import DEFAULT_INPUT_LONG_SIDE
from sgm_datasets.mlflow_log import use_tracking
from sgm_models.errors import ModelError
from sgm_models.inference.errors import UnknownModel
from sgm_models.registry import ModelRegistry

# mlflow's model loaders read the registry from process-global state; one lock keeps two URIs from mixing.
_GLOBAL_URI = threading.Lock()


@dataclass(frozen=True)
class ResolvedModel:
    """One registered model version: what predictions are stored under."""

    name: str
    version: str
    input_long_side: int
    tracking_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def long_side_of(metadata: dict[str, Any] | None) -> int:
    """The model's `input_long_side` metadata, else the contract's default."""
    raw = (metadata or {}).get("input_long_side", DEFAULT_INPUT_LONG_SIDE)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UnknownModel(f"the model's input_long_side metadata {raw!r} is not a number") from None
    if not 16 <= value <= 16384:
        raise UnknownModel(f"the model's input_long_side metadata {value} is outside 16..16384")
    return value


@contextmanager
def use_registry(tracking_uri: str) -> Iterator[None]:
    """mlflow's global tracking and registry URIs pointed at ours, while no other thread changes them."""
    with _GLOBAL_URI:
        use_tracking(tracking_uri)
        yield


def resolve_version(tracking_uri: str, name: str, alias: str) -> str:
    """The version number an alias (or a version number) names now; UnknownModel when there is none."""
    try:
        return ModelRegistry(tracking_uri).version_of(name, alias)
    except ModelError:
        what = "version" if alias.isdigit() else "alias"
        raise UnknownModel(f"the model registry has no model {name!r} with {what} {alias!r}") from None


def resolve_model(tracking_uri: str, name: str, alias: str) -> ResolvedModel:
    """The version an alias (or a version number) points at now, with its metadata; UnknownModel when none."""
    version = resolve_version(tracking_uri, name, alias)
    with use_registry(tracking_uri):
        try:
            info = mlflow.models.get_model_info(f"models:/{name}/{version}")
        except MlflowException as exc:
            raise UnknownModel(f"model {name} version {version} cannot be read: {exc.message}") from None
    return ResolvedModel(name, version, long_side_of(info.metadata), tracking_uri)
