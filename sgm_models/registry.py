"""The model registry: aliases, and the champion/challenger comparison on one held-out dataset version that
decides whether `champion` moves; every move is an audited application activity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId
from emr_core.settings import Settings
from sgm_datasets.api import load_dataset
from sgm_datasets.mlflow_log import mlflow_client
from sgm_models.errors import UnknownAlias, UnknownModel
from sgm_models.evaluation import Evaluation, Predictor, evaluate

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class ModelVersionInfo:
    version: str
    aliases: tuple[str, ...]
    dataset: str
    dataset_version: str
    run_id: str


@dataclass(frozen=True)
class Comparison:
    """Both models on the same held-out split of one dataset version; `moved` when champion changed."""

    model: str
    dataset: str
    dataset_version: str
    champion: str
    challenger: str
    champion_eval: Evaluation | None
    challenger_eval: Evaluation | None
    moved: bool


def _mlflow() -> Any:
    from sgm_models.pyfunc import mlflow

    return mlflow


class ModelRegistry:
    """Registered detectors and their aliases on one tracking server."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self.client = mlflow_client(tracking_uri)

    def _model(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException:
            raise UnknownModel(f"no registered model named {name!r} at {self.tracking_uri}") from None

    def aliases(self, name: str) -> dict[str, str]:
        """alias -> version."""
        return {alias: str(version) for alias, version in (self._model(name).aliases or {}).items()}

    def version_of(self, name: str, alias: str) -> str:
        """The version an alias points at now, or a version number checked to exist; UnknownAlias otherwise."""
        if alias.isdigit():
            return self._existing_version(name, alias)
        found = self.aliases(name).get(alias)
        if found is None:
            raise UnknownAlias(f"model {name!r} has no version aliased {alias!r} (aliases: {self._listed(name)})")
        return found

    def _existing_version(self, name: str, version: str) -> str:
        from mlflow.exceptions import MlflowException

        self._model(name)
        try:
            return str(self.client.get_model_version(name, version).version)
        except MlflowException:
            raise UnknownAlias(f"model {name!r} has no version {version}") from None

    def _listed(self, name: str) -> str:
        return ", ".join(f"{a}=v{v}" for a, v in sorted(self.aliases(name).items())) or "none"

    def model_uri(self, name: str, alias: str) -> str:
        """models:/NAME@ALIAS after checking the alias exists."""
        self.version_of(name, alias)
        return f"models:/{name}@{alias}"

    def versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version, newest first, with its aliases and the dataset version it was trained on."""
        by_version: dict[str, list[str]] = {}
        for alias, version in self.aliases(name).items():
            by_version.setdefault(version, []).append(alias)
        found = self.client.search_model_versions(f"name = '{name}'")
        rows = [
            ModelVersionInfo(
                str(v.version), tuple(sorted(by_version.get(str(v.version), []))),
                v.tags.get("sgm.dataset", ""), v.tags.get("sgm.dataset_version", ""), v.run_id or "",
            )
            for v in found
        ]  # fmt: skip
        return sorted(rows, key=lambda r: int(r.version), reverse=True)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._model(name)
        if version not in {v.version for v in self.versions(name)}:
            raise UnknownAlias(f"model {name!r} has no version {version}")
        self.client.set_registered_model_alias(name, alias, version)

    def adopt_new_version(self, name: str, version: str) -> tuple[str, ...]:
        """A new version is the challenger; it is also champion when there is none yet."""
        self.set_alias(name, CHALLENGER, version)
        if CHAMPION in self.aliases(name):
            return (CHALLENGER,)
        self.set_alias(name, CHAMPION, version)
        return (CHALLENGER, CHAMPION)

    def predictor(self, name: str, version: str) -> Predictor:
        """The registered version loaded as pyfunc, called through the contract (output checked)."""
        from detection.contract import input_frame, parse_output

        model = _mlflow().pyfunc.load_model(f"models:/{name}/{version}")

        def predict(images: Any) -> Any:
            sent = [(i.image_id, int(i.pixels.shape[1]), int(i.pixels.shape[0])) for i in images]
            return parse_output(model.predict(input_frame(images)), sent)

        return predict


def _long_side(registry: ModelRegistry, name: str, version: str) -> int:
    from detection.contract import DEFAULT_INPUT_LONG_SIDE

    info = _mlflow().models.get_model_info(f"models:/{name}/{version}")
    return int((info.metadata or {}).get("input_long_side", DEFAULT_INPUT_LONG_SIDE))


def compare(
    settings: Settings, registry: ModelRegistry, name: str, dataset: str, dataset_version: str = "latest"
) -> Comparison:
    """Champion and challenger on the test split of the same dataset version (no alias moves)."""
    from sgm_models.data import split_images

    champion, challenger = registry.version_of(name, CHAMPION), registry.version_of(name, CHALLENGER)
    manifest, root = load_dataset(dataset, dataset_version, settings=settings)
    if champion == challenger:
        return Comparison(name, dataset, root.name, champion, challenger, None, None, False)
    evals = []
    for version in (champion, challenger):
        images = split_images(manifest, root, "test", _long_side(registry, name, version))
        evals.append(evaluate(registry.predictor(name, version), images))
    return Comparison(name, dataset, root.name, champion, challenger, evals[0], evals[1], False)


def promote(
    session: Session, settings: Settings, registry: ModelRegistry, name: str, dataset: str,
    dataset_version: str = "latest", user: str = "", min_gain: float = 0.0,
) -> Comparison:  # fmt: skip
    """Move `champion` to the challenger when it scores at least `min_gain` more FROC on the same held-out
    version; the move is audited in the caller's transaction (the caller commits)."""
    result = compare(settings, registry, name, dataset, dataset_version)
    if result.champion_eval is None or result.challenger_eval is None:
        return result
    if result.challenger_eval.froc_score < result.champion_eval.froc_score + min_gain:
        return result
    registry.set_alias(name, CHAMPION, result.challenger)
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.APPLICATION_ACTIVITY,
            action=AuditAction.UPDATE,
            event_type="model.champion_changed",
            user_id=user,
            detail={
                "model": name, "champion": [result.champion, result.challenger],
                "dataset": dataset, "dataset_version": result.dataset_version,
                "froc_score": [result.champion_eval.froc_score, result.challenger_eval.froc_score],
            },
        ),
    )  # fmt: skip
    return Comparison(**{**result.__dict__, "moved": True})
