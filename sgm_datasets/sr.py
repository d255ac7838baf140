"""DICOM SR (TID 1500 measurement report) per study with each finding's box as a closed polyline, via highdicom."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pandas as pd
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

PROCEDURE = hd.sr.CodedConcept("24606-6", "LN", "MG Breast Screening")
SCHEME = "99SGM"  # our finding categories are not in a standard terminology


def _polyline(box: dict[str, float]) -> np.ndarray:
    x0, y0, x1, y1 = box["xmin"], box["ymin"], box["xmax"], box["ymax"]
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=float)


def _group(
    box: dict[str, object], source: Dataset, study_uid: str
) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    fid = str(box["finding_id"])
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=_polyline(box),  # type: ignore[arg-type]
        source_image=hd.sr.SourceImageForRegion.from_source_image(source),
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(entropy_srcs=[study_uid, fid, str(source.SOPInstanceUID)]), identifier=fid
        ),
        referenced_region=region,
        finding_type=hd.sr.CodedConcept(str(box["category"])[:16], SCHEME, str(box["category"]).title()),
    )


def write_study_sr(rows: pd.DataFrame, root: Path, out: Path) -> str | None:
    """The measurement report of one study's findings; None when the study has none."""
    evidence = {
        r["image_id"]: dcmread(root / r["dicom_path"], stop_before_pixels=True) for r in rows.to_dict("records")
    }
    groups = [
        _group(box, evidence[r["image_id"]], r["study_id"])
        for r in rows.to_dict("records")
        for box in json.loads(r["findings"])
    ]
    if not groups:
        return None
    study_uid = str(rows["study_id"].iloc[0])
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="SGM^Consolidated reading"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=PROCEDURE,
        imaging_measurements=groups,
    )
    sources = list(evidence.values())
    sr = hd.sr.Comprehensive3DSR(
        evidence=sources,
        content=report,
        series_instance_uid=generate_uid(entropy_srcs=[study_uid, "sr-series"]),
        series_number=900,
        sop_instance_uid=generate_uid(entropy_srcs=[study_uid, "sr"]),
        instance_number=1,
        manufacturer="sgm",
        is_complete=True,
        is_final=True,
    )
    # highdicom describes the source equipment here in free text, which Table E.1-1 removes: so do we.
    if "ContributingEquipmentSequence" in sr:
        del sr.ContributingEquipmentSequence
    # The same findings give the same file: dates come from the (shifted) study, not from the clock.
    sr.ContentDate = sources[0].get("StudyDate", "")
    sr.ContentTime = "000000"  # type: ignore[assignment]
    for keyword in ("SeriesDate", "SeriesTime", "InstanceCreationDate", "InstanceCreationTime"):
        if keyword in sr:
            setattr(sr, keyword, sources[0].get("StudyDate", "") if keyword.endswith("Date") else "000000")
    rel = f"sr/{rows['patient'].iloc[0]}/{study_uid}.dcm"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    sr.save_as(out / rel, enforce_file_format=True)
    return rel


def write_srs(manifest: pd.DataFrame, out: Path) -> list[str]:
    written = []
    for _, rows in manifest.groupby("study_id", sort=True):
        rel = write_study_sr(rows, out, out)
        if rel:
            written.append(rel)
    return written
