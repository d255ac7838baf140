"""Export consolidated findings as VinDr-Mammo style CSVs and COCO detection JSON (DICOM pixel boxes)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.schema import FINDING_TYPES
from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import CampaignTask, ConsolidatedFinding, ConsolidatedRead

BREAST_COLUMNS = (
    "study_id",
    "series_id",
    "image_id",
    "laterality",
    "view_position",
    "height",
    "width",
    "breast_birads",
    "breast_density",
    "split",
)
# VinDr's columns, then our cross-view lesion id (VinDr has none).
FINDING_COLUMNS = (
    *BREAST_COLUMNS[:7],
    "finding_categories",
    "finding_birads",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "finding_id",
)
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class ExportReport:
    breast_csv: Path
    finding_csv: Path
    coco_json: Path
    images: int
    boxes: int


def split_of(study_uid: str) -> str:
    """A stable train/test split by study (same study, same split, in every export)."""
    bucket = int(hashlib.sha256(study_uid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_FRACTION else "training"


def _category(finding_type: str) -> str:
    return finding_type.title()


def _images(session: Session, campaign_id: int) -> list[tuple[CampaignTask, ConsolidatedRead, Instance, str, str]]:
    """Every image of a consolidated side with its side read, study UID and series UID."""
    query = (
        select(CampaignTask, ConsolidatedRead, Instance, Study.study_uid, Series.series_uid)
        .join(ConsolidatedRead, ConsolidatedRead.campaign_task_id == CampaignTask.id)
        .join(Instance, Instance.id.in_([CampaignTask.cc_instance_id, CampaignTask.mlo_instance_id]))
        .join(Series, Series.id == Instance.series_id)
        .join(Study, Study.id == Series.study_id)
        .where(CampaignTask.campaign_id == campaign_id)
        .order_by(CampaignTask.id, Instance.id)
    )
    return [
        (task, read, inst, study_uid, series_uid) for task, read, inst, study_uid, series_uid in session.execute(query)
    ]


def _image_columns(inst: Instance, study_uid: str, series_uid: str, task: CampaignTask) -> list[Any]:
    return [study_uid, series_uid, inst.sop_instance_uid, task.laterality, inst.view, inst.rows, inst.columns]


def _box(f: ConsolidatedFinding, task: CampaignTask, inst: Instance) -> tuple[float, ...] | None:
    view = "cc" if inst.id == task.cc_instance_id else "mlo"
    values = tuple(getattr(f, f"{view}_{k}") for k in ("xmin", "ymin", "xmax", "ymax"))
    return None if values[0] is None else tuple(round(v, 2) for v in values)


def _rows(session: Session, campaign_id: int) -> tuple[list[list[Any]], list[list[Any]], list[dict[str, Any]]]:
    """Breast-level rows, finding rows and COCO (image, box) records."""
    findings: dict[int, list[ConsolidatedFinding]] = {}
    for f in session.scalars(
        select(ConsolidatedFinding).join(CampaignTask).where(CampaignTask.campaign_id == campaign_id)
    ):
        findings.setdefault(f.campaign_task_id, []).append(f)
    breast, finding, coco = [], [], []
    for task, read, inst, study_uid, series_uid in _images(session, campaign_id):
        image = _image_columns(inst, study_uid, series_uid, task)
        breast.append(
            [*image, f"BI-RADS {read.assessment}", f"DENSITY {read.composition.upper()}", split_of(study_uid)]
        )
        boxes = [(f, box) for f in findings.get(task.id, []) if (box := _box(f, task, inst))]
        coco.append({"instance": inst, "study_uid": study_uid, "boxes": boxes})
        for f, box in boxes:
            finding.append(
                [*image, json.dumps([_category(f.finding_type)]), f"BI-RADS {f.birads}", *box, f.finding_uid]
            )
        if not boxes:
            finding.append([*image, json.dumps(["No Finding"]), "", "", "", "", "", ""])
    return breast, finding, coco


def _coco(records: list[dict[str, Any]]) -> dict[str, Any]:
    """COCO detection JSON; bbox is [x, y, width, height] in DICOM pixels; finding_id links CC and MLO."""
    categories = [{"id": i + 1, "name": t, "supercategory": "finding"} for i, t in enumerate(FINDING_TYPES)]
    cat_id = {c["name"]: c["id"] for c in categories}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for rec in records:
        inst: Instance = rec["instance"]
        images.append(
            {
                "id": inst.id,
                "file_name": inst.stored_path,
                "width": inst.columns,
                "height": inst.rows,
                "sop_instance_uid": inst.sop_instance_uid,
                "study_instance_uid": rec["study_uid"],
                "laterality": inst.laterality,
                "view": inst.view,
                "split": split_of(rec["study_uid"]),
            }
        )
        for f, (x0, y0, x1, y1) in rec["boxes"]:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": inst.id,
                    "category_id": cat_id[f.finding_type],
                    "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                    "area": round((x1 - x0) * (y1 - y0), 2),
                    "iscrowd": 0,
                    "finding_id": f.finding_uid,
                    "birads": f.birads,
                    "attributes": f.attributes,
                }
            )
    return {
        "info": {"description": "sgm consolidated mammography findings"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def export_campaign(session: Session, campaign_id: int, out: Path, user: str = "") -> ExportReport:
    """Write breast-level_annotations.csv, finding_annotations.csv and coco.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    breast, finding, coco = _rows(session, campaign_id)
    report = ExportReport(
        out / "breast-level_annotations.csv",
        out / "finding_annotations.csv",
        out / "coco.json",
        len(breast),
        sum(len(r["boxes"]) for r in coco),
    )
    _write_csv(report.breast_csv, BREAST_COLUMNS, breast)
    _write_csv(report.finding_csv, FINDING_COLUMNS, finding)
    report.coco_json.write_text(json.dumps(_coco(coco), indent=1), encoding="utf-8")
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.EXPORT,
            action=AuditAction.READ,
            user_id=user,
            event_type="annotation.export",
            instance_count=report.images,
            detail={"campaign_id": campaign_id, "out": str(out), "boxes": report.boxes},
        ),
    )
    return report
