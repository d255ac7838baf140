"""EMR rows for feedback tests and the feedback bench: studies, a model's predictions, final reads, reviews.

Rows are inserted directly (no DICOM files, no Label Studio): what the feedback loader reads is exactly the
rows the inference, consolidation and pull steps store.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from annotation_ui.demo_reads import GtFinding, finding_items, side_items
from annotation_ui.labeling_config import box_control
from annotation_ui.reads import box_to_percent
from annotation_ui.schemes import SCHEMES
from emr_core.dicom.render import mapping_for
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import (
    AnnotationCampaign,
    AnnotationReader,
    AnnotationRevision,
    CampaignTask,
    ConsolidatedFinding,
    ConsolidatedRead,
    ReaderAssignment,
)
from emr_core.models_ml import ModelPrediction, StudyInference
from sgm_datasets.mlflow_log import mlflow_client, use_tracking

COLUMNS, ROWS, LONG_SIDE = 3328, 4096, 1024
Box = tuple[float, float, float, float]
Image = tuple[str, str]  # (laterality, view): ("L", "cc")
_ids = itertools.count(1)


@dataclass
class ExamSpec:
    """One screening exam: four images, a final read per side, the model's boxes, a reader's boxes."""

    assessment: dict[str, str] = field(default_factory=lambda: {"L": "1", "R": "1"})
    lesions: dict[Image, list[Box]] = field(default_factory=dict)
    predictions: dict[Image, list[tuple[Box, float]]] = field(default_factory=dict)
    exam_score: float = 0.1
    reviewed: dict[Image, list[Box]] | None = None  # the AI-seeing reader's final boxes, None when not read
    final: bool = True  # False: one side has no consolidated read yet
    inference_status: str = "done"
    # False: no consolidated rows, and the reader's revisions are full reads of `reviewed` for the campaign's own
    # decision (annotation_ui.consolidation.decide_campaign) to consolidate
    decided: bool = True


@dataclass
class Campaign:
    id: int
    name: str
    assignments: dict[str, int]  # role -> assignment id
    reviewer: str  # the role whose revisions hold the reviewed boxes: one shown predictions, if the scheme has one


def add_campaign(session: Session, scheme: str = "blind_double_ai", name: str | None = None) -> Campaign:
    n = next(_ids)
    campaign = AnnotationCampaign(name=name or f"feedback-{n}", scheme=scheme, long_side=LONG_SIDE, phase="reading")
    session.add(campaign)
    session.flush()
    assignments = {}
    for role in ("reader_1", "reader_2", "adjudicator"):
        k = next(_ids)
        reader = AnnotationReader(email=f"r{k}@example.org", ls_user_id=100_000 + k)
        session.add(reader)
        session.flush()
        assignment = ReaderAssignment(campaign_id=campaign.id, reader_id=reader.id, role=role, ls_project_id=k)
        session.add(assignment)
        session.flush()
        assignments[role] = assignment.id
    reviewer = (*SCHEMES[scheme].shows_predictions, "adjudicator")[0]
    return Campaign(campaign.id, campaign.name, assignments, reviewer)


def _instances(session: Session, study: Study) -> dict[Image, int]:
    series = Series(series_uid=f"2.25.{next(_ids)}", study_id=study.id, modality="MG")
    session.add(series)
    session.flush()
    out = {}
    for side, view in itertools.product("LR", ("cc", "mlo")):
        uid = f"2.25.{next(_ids)}"
        instance = Instance(
            sop_instance_uid=uid, series_id=series.id, modality="MG", is_mammogram=True, laterality=side,
            view=view.upper(), rows=ROWS, columns=COLUMNS, stored_path=f"{uid}.dcm", size_bytes=1, sha256="0" * 64,
        )  # fmt: skip
        session.add(instance)
        session.flush()
        out[(side, view)] = instance.id
    return out


def _reader_result(boxes: dict[Image, list[Box]], side: str) -> list[dict[str, Any]]:
    mapping = mapping_for(COLUMNS, ROWS, LONG_SIDE)
    return [
        {
            "id": f"r{next(_ids)}",
            "from_name": box_control(view),
            "to_name": view,
            "type": "rectanglelabels",
            "original_width": mapping.png_width,
            "original_height": mapping.png_height,
            "value": {**box_to_percent(box, mapping), "rectanglelabels": ["mass"]},
            "origin": "manual",
        }
        for (s, view), view_boxes in boxes.items()
        if s == side
        for box in view_boxes
    ]


MASS = {"mass_shape": "oval", "mass_margin": "circumscribed", "mass_density": "equal"}


def _full_read(boxes: dict[Image, list[Box]], side: str, spec: ExamSpec) -> list[dict[str, Any]]:
    """A complete read of one side as a reader submits it: density, assessment, each box a described mass."""
    mapping = mapping_for(COLUMNS, ROWS, LONG_SIDE)
    items = side_items("b", spec.assessment[side])
    drawn = [(view, box) for (s, view), view_boxes in boxes.items() if s == side for box in view_boxes]
    for k, (view, box) in enumerate(drawn):
        finding = GtFinding(f"f{k}", "mass", "4A", MASS, {view: box})
        items += finding_items(finding, {"cc": mapping, "mlo": mapping}, f"f{k}")
    return items


def _side(
    session: Session, campaign: Campaign, study: Study, images: dict[Image, int], side: str, spec: ExamSpec
) -> None:
    task = CampaignTask(
        campaign_id=campaign.id, study_id=study.id, laterality=side,
        cc_instance_id=images[(side, "cc")], mlo_instance_id=images[(side, "mlo")], state="concordant",
    )  # fmt: skip
    session.add(task)
    session.flush()
    if spec.decided and (spec.final or side == "L"):
        session.add(
            ConsolidatedRead(
                campaign_task_id=task.id, composition="b", assessment=spec.assessment[side], source="concordant"
            )
        )
    for (s, view), boxes in spec.lesions.items() if spec.decided else ():
        for box in boxes if s == side else []:
            session.add(
                ConsolidatedFinding(
                    finding_uid=f"f{next(_ids)}",
                    campaign_task_id=task.id,
                    study_id=study.id,
                    laterality=side,
                    finding_type="mass",
                    birads="4A",
                    source="concordant",
                    **{f"{view}_instance_id": images[(side, view)]},
                    **{f"{view}_{k}": v for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)},
                )
            )
    if spec.reviewed is not None:
        result = _reader_result(spec.reviewed, side) if spec.decided else _full_read(spec.reviewed, side, spec)
        digest = hashlib.sha256(repr(result).encode()).hexdigest()
        session.add(
            AnnotationRevision(
                assignment_id=campaign.assignments[campaign.reviewer],
                campaign_task_id=task.id,
                ls_annotation_id=next(_ids),
                result=result,
                result_sha256=digest,
                valid=True,
            )
        )


def add_exam(session: Session, campaign: Campaign, spec: ExamSpec, model: tuple[str, str]) -> int:
    """One study with its rows as the spec says; returns the study id."""
    study = Study(study_uid=f"2.25.{next(_ids)}")
    session.add(study)
    session.flush()
    images = _instances(session, study)
    inference = StudyInference(
        study_id=study.id, model_name=model[0], model_version=model[1], status=spec.inference_status,
        exam_score=spec.exam_score if spec.inference_status == "done" else None,
    )  # fmt: skip
    session.add(inference)
    session.flush()
    for image, instance in images.items():
        boxes: list[dict[str, Any]] = [
            {"x_min": b[0], "y_min": b[1], "x_max": b[2], "y_max": b[3], "score": score, "label": "lesion"}
            for b, score in spec.predictions.get(image, [])
        ]
        score = max((s for _, s in spec.predictions.get(image, [])), default=0.0)
        session.add(
            ModelPrediction(
                study_inference_id=inference.id,
                instance_id=instance,
                input_sha256="0" * 64,
                boxes=boxes,
                image_score=score,
            )
        )
    for side in "LR":
        _side(session, campaign, study, images, side, spec)
    session.flush()
    return study.id


def register_model_version(tracking_uri: str, name: str, alias: str = "") -> tuple[str, str]:
    """A registered version backed by an MLflow 3 logged model, as training registers one: (version, model id)."""
    import mlflow

    client = mlflow_client(tracking_uri)
    location = None
    if tracking_uri.startswith("sqlite:///"):  # artifacts beside the database, not in the working directory
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "training").resolve().as_uri()
    use_tracking(tracking_uri)
    mlflow.set_experiment(experiment_id=client.create_experiment("training", artifact_location=location))
    with mlflow.start_run():
        model = mlflow.initialize_logged_model(name="detector")
    client.create_registered_model(name)
    version = client.create_model_version(name, f"models:/{model.model_id}", model_id=model.model_id)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return str(version.version), str(model.model_id)
