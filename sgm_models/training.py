"""Train the baseline on a dataset version, measure it on the held-out split against the trivial baseline, and
log and register it in MLflow: parameters, metrics, the dataset input, the model, aliases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from detection.baseline import BaselineConfig, BaselineDetector
from detection.contract import DEFAULT_INPUT_LONG_SIDE
from emr_core.settings import Settings
from sgm_datasets.api import load_dataset
from sgm_datasets.mlflow_log import log_input, mlflow_digest, use_tracking
from sgm_datasets.site import site_store
from sgm_models.data import LabelledImage, split_images
from sgm_models.errors import NoHeldOutLesions, NotBetterThanTrivial
from sgm_models.evaluation import Evaluation, evaluate
from sgm_models.predictors import baseline_predictor, trivial_predictor

EXPERIMENT = "sgm-detectors"


@dataclass(frozen=True)
class TrainingRequest:
    dataset: str
    version: str = "latest"
    model_name: str = "sgm-baseline-detector"
    config: BaselineConfig = field(default_factory=BaselineConfig)
    input_long_side: int = DEFAULT_INPUT_LONG_SIDE


@dataclass(frozen=True)
class TrainingReport:
    """What a training run produced; `model_version` is None when the model was not registered."""

    run_id: str
    model_name: str
    model_version: str | None
    dataset: str
    dataset_version: str
    validation: Evaluation
    test: Evaluation
    trivial: Evaluation
    aliases: tuple[str, ...] = ()

    @property
    def beats_trivial(self) -> bool:
        return self.test.froc_score > self.trivial.froc_score


@dataclass(frozen=True)
class _Splits:
    train: list[LabelledImage]
    val: list[LabelledImage]
    test: list[LabelledImage]


def check_measurable(test: list[LabelledImage], dataset: str, version: str) -> None:
    """Refuse, before any training, a version whose test split has no lesion to measure the detector on."""
    if not any(item.lesions for item in test):
        raise NoHeldOutLesions(
            f"the test split of {dataset}@{version[:12]} has no lesion ({len(test)} images): nothing to measure a "
            "detector on; export a version with findings in more patients (splits are by patient)"
        )


def _params(request: TrainingRequest, version: str, splits: _Splits) -> dict[str, object]:
    return {
        **request.config.params(),
        "input_long_side": request.input_long_side,
        "dataset": request.dataset,
        "dataset_version": version,
        **{f"{name}.images": len(getattr(splits, name)) for name in ("train", "val", "test")},
    }


def train_detector(
    settings: Settings, request: TrainingRequest, tracking_uri: str, progress: Callable[[str], None] | None = None
) -> TrainingReport:
    """One MLflow run; registers the model only when it beats the trivial baseline on the test split."""
    say = progress or (lambda _stage: None)
    from sgm_models import registry
    from sgm_models.pyfunc import log_detector, mlflow

    say(f"loading dataset {request.dataset}@{request.version}")
    manifest, root = load_dataset(request.dataset, request.version, settings=settings)
    version = str(root.name)
    side = request.input_long_side
    splits = _Splits(*(split_images(manifest, root, s, side) for s in ("train", "val", "test")))
    check_measurable(splits.test, request.dataset, version)
    say(f"training on {len(splits.train)} images")
    detector = BaselineDetector(request.config).fit(
        [i.image.pixels for i in splits.train], [i.lesions for i in splits.train]
    )
    predictor = baseline_predictor(detector)
    say(f"evaluating on {len(splits.val)} validation and {len(splits.test)} test images")
    validation, test = evaluate(predictor, splits.val), evaluate(predictor, splits.test)
    trivial = evaluate(trivial_predictor(), splits.test)
    say(f"logging to {tracking_uri}")
    use_tracking(tracking_uri)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"{request.model_name}@{version[:12]}") as run:
        log_input(manifest, request.dataset, version, site_store(settings).uri(request.dataset, version))
        mlflow.log_params(_params(request, version, splits))
        metrics = validation.metrics("val") | test.metrics("test") | trivial.metrics("trivial.test")
        mlflow.log_metrics(metrics)
        report = TrainingReport(
            run.info.run_id, request.model_name, None, request.dataset, version, validation, test, trivial
        )
        mlflow.set_tags(
            {
                "sgm.dataset": request.dataset,
                "sgm.dataset_version": version,
                "sgm.beats_trivial": str(report.beats_trivial).lower(),
            }
        )
        if not report.beats_trivial:
            raise NotBetterThanTrivial(
                f"FROC score {test.froc_score:.3f} on the test split does not beat the trivial baseline's "
                f"{trivial.froc_score:.3f}: not registered (run {run.info.run_id})"
            )
        info = log_detector(detector, side)
        mlflow.log_metrics(test.metrics("test"), model_id=info.model_id)
    tags = {
        "sgm.dataset": request.dataset,
        "sgm.dataset_version": version,
        "sgm.dataset_digest": mlflow_digest(version),
    }
    registered = mlflow.register_model(info.model_uri, request.model_name, tags=tags)
    aliases = registry.ModelRegistry(tracking_uri).adopt_new_version(request.model_name, str(registered.version))
    return TrainingReport(
        run.info.run_id, request.model_name, str(registered.version), request.dataset, version,
        validation, test, trivial, aliases,
    )  # fmt: skip
