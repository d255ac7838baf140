"""Label files of a version, all from its manifest: VinDr-Mammo CSVs and COCO detection JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from annotation_ui.exports import BREAST_COLUMNS, FINDING_COLUMNS
from annotation_ui.schema import FINDING_TYPES

BREAST_CSV = "labels/breast-level_annotations.csv"
FINDING_CSV = "labels/finding_annotations.csv"
COCO_JSON = "labels/coco.json"
EDGES = ("xmin", "ymin", "xmax", "ymax")


def _image(row: dict[str, Any]) -> list[Any]:
    keys = ("study_id", "series_id", "image_id", "laterality", "view", "height", "width")
    return [row[k] for k in keys]


def write_vindr(manifest: pd.DataFrame, out: Path) -> list[str]:
    """breast-level_annotations.csv and finding_annotations.csv (VinDr's columns plus our finding_id)."""
    breast, finding = [], []
    for row in manifest.to_dict("records"):
        image = _image(row)
        breast.append([*image, f"BI-RADS {row['breast_birads']}", f"DENSITY {row['density'].upper()}", row["split"]])
        boxes = json.loads(row["findings"])
        for box in boxes:
            category = json.dumps([box["category"].title()])
            finding.append([*image, category, f"BI-RADS {box['birads']}", *(box[e] for e in EDGES), box["finding_id"]])
        if not boxes:
            finding.append([*image, json.dumps(["No Finding"]), "", "", "", "", "", ""])
    _write_csv(out / BREAST_CSV, BREAST_COLUMNS, breast)
    _write_csv(out / FINDING_CSV, FINDING_COLUMNS, finding)
    return [BREAST_CSV, FINDING_CSV]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def write_coco(manifest: pd.DataFrame, out: Path) -> list[str]:
    """COCO detection JSON; bbox [x, y, width, height] in DICOM pixels; file_name is the de-identified DICOM."""
    categories = [{"id": i + 1, "name": t, "supercategory": "finding"} for i, t in enumerate(FINDING_TYPES)]
    cat_id = {c["name"]: c["id"] for c in categories}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index, row in enumerate(manifest.to_dict("records"), start=1):
        images.append(
            {
                "id": index,
                "file_name": row["dicom_path"],
                "png_file_name": row["png_path"],
                "width": int(row["width"]),
                "height": int(row["height"]),
                "png_width": int(row["png_width"]),
                "png_height": int(row["png_height"]),
                "sop_instance_uid": row["image_id"],
                "study_instance_uid": row["study_id"],
                "patient": row["patient"],
                "laterality": row["laterality"],
                "view": row["view"],
                "split": row["split"],
            }
        )
        for box in json.loads(row["findings"]):
            x0, y0, x1, y1 = (box[e] for e in EDGES)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": cat_id[box["category"]],
                    "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                    "area": round((x1 - x0) * (y1 - y0), 2),
                    "iscrowd": 0,
                    "finding_id": box["finding_id"],
                    "birads": box["birads"],
                    "attributes": box["attributes"],
                }
            )
    coco = {
        "info": {"description": "sgm training dataset"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    path = out / COCO_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco, indent=1, sort_keys=True), encoding="utf-8")
    return [COCO_JSON]
