"""A PHI scan of a pulled version: every Table E.1-1 attribute, and every text value, against the EMR's PHI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pydicom
from pydicom.dataset import Dataset
from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.deid.profile import PATIENT_CHARACTERISTICS, SERIES_DESCRIPTION, STUDY_DESCRIPTION
from emr_core.deid.table import Action, action_for
from emr_core.models import Accession, Instance, Patient, PatientIdentifier, Series, Study
from quality.suites.dataset import normalise


def phi_needles(state: Any) -> set[str]:
    """Names (whole and each part), identifiers, accessions, birth dates and original UIDs of every patient."""
    found: set[str] = set()
    with session_scope(state.sessions) as session:
        for s in session.scalars(select(Study)):
            parts = s.dicom_patient_name.replace("^", " ").split()
            found |= {s.dicom_patient_name.replace("^", " "), s.dicom_patient_id, s.accession_number, s.study_uid}
            found |= {p for p in parts if len(p) >= 4}
            if s.dicom_birth_date:
                found |= {s.dicom_birth_date.isoformat(), s.dicom_birth_date.strftime("%Y%m%d")}
        for p in session.scalars(select(Patient)):
            found |= {p.full_name} | (
                {p.birth_date.isoformat(), p.birth_date.strftime("%Y%m%d")} if p.birth_date else set()
            )
        found |= set(session.scalars(select(PatientIdentifier.value)))
        found |= set(session.scalars(select(Accession.accession_number)))
        found |= set(session.scalars(select(Series.series_uid))) | set(
            session.scalars(select(Instance.sop_instance_uid))
        )
    return {normalise(n) for n in found if n and len(normalise(n)) >= 4}


# Options the profile applies (E.3.5 retain patient characteristics, E.3.11 clean descriptors): these X
# attributes stay, and the value scan below checks them for PHI like every other value.
OPTION_KEPT = PATIENT_CHARACTERISTICS | {STUDY_DESCRIPTION, SERIES_DESCRIPTION}


def _walk(ds: Dataset, path: str = "") -> list[tuple[str, Any, Any]]:
    out = []
    for element in ds:
        here = f"{path}/{element.keyword or element.tag}"
        out.append((here, element.tag, element))
        if element.VR == "SQ":
            for item in element.value:
                out.extend(_walk(item, here))
    return out


def _dicom_problems(path: Path, needles: set[str]) -> list[str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    problems = [] if ds.get("PatientIdentityRemoved") == "YES" else [f"{path.name}: PatientIdentityRemoved is not YES"]
    for where, tag, element in _walk(ds):
        if tag.is_private:
            problems.append(f"{path.name}{where}: private tag kept")
            continue
        action = action_for(tag)
        if action is Action.X and tag not in OPTION_KEPT and element.VR != "SQ" and element.value not in (None, ""):
            problems.append(f"{path.name}{where}: Table E.1-1 says remove, value kept {element.value!r}")
        if element.VR in ("SQ", "OB", "OW", "OF", "UN"):
            continue
        text = normalise(str(element.value))
        if any(n in text for n in needles):
            problems.append(f"{path.name}{where}: PHI in value (table action {action})")
    return problems


def scan_for_phi(root: Path, state: Any) -> list[str]:
    """Every problem found under root; an empty list means clean."""
    needles = phi_needles(state)
    problems: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".dcm":
            problems += _dicom_problems(path, needles)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            text = normalise(" ".join(frame.astype(str).to_numpy().ravel()))
            problems += [f"{path.name}: PHI in manifest" for n in needles if n in text]
        elif path.suffix in (".csv", ".json", ".html"):
            text = normalise(path.read_text(encoding="utf-8"))
            problems += [f"{path.name}: PHI in text" for n in needles if n in text]
        elif path.suffix == ".png":
            data = path.read_bytes()
            problems += [f"{path.name}: PNG text chunk" for chunk in (b"tEXt", b"iTXt", b"zTXt") if chunk in data]
    return problems
