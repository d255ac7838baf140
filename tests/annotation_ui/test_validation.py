"""Annotations are validated against the schema: rejected with the reason, kept as revisions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.schema import DEFAULT_SCHEMA
from annotation_ui.validation import validate_result
from emr_core.db import session_scope
from emr_core.dicom.render import mapping_for
from emr_core.models_annotation import AnnotationRevision, CampaignTask
from emr_core.settings import Settings
from tests.annotation_ui.test_double_reading import provision
from tests.support.annotation_scenario import (
    GtFinding,
    finding_items,
    ground_truth,
    read_result,
    reader_tasks,
    side_items,
)
from tests.support.lsenv import LabelStudioEnv

MAPPINGS = {"cc": mapping_for(1000, 1300), "mlo": mapping_for(1000, 1300)}
SIZES = {v: (m.png_width, m.png_height) for v, m in MAPPINGS.items()}
MASS = GtFinding(
    "F1",
    "mass",
    "4B",
    {"mass_shape": "oval", "mass_margin": "obscured"},
    {"cc": (100, 100, 200, 180), "mlo": (120, 300, 230, 390)},
)


def _problems(items: list) -> list[str]:
    return validate_result(items, DEFAULT_SCHEMA, SIZES)


def test_a_complete_read_is_valid() -> None:
    assert _problems(side_items("b", "4B") + finding_items(MASS, MAPPINGS, "m")) == []


def test_rejections_say_why() -> None:
    bare = GtFinding("F2", "mass", "3", {}, {"cc": MASS.boxes["cc"]})
    assert _problems(side_items("b", "3") + finding_items(bare, MAPPINGS, "b")) == [
        "mass (CC box bcc) without mass_shape and mass_margin"
    ]
    no_subtype = GtFinding(
        "F3",
        "calcification",
        "4",
        {"calc_morphology": "amorphous", "calc_distribution": "grouped"},
        {"mlo": MASS.boxes["mlo"]},
    )
    assert _problems(side_items("b", "4") + finding_items(no_subtype, MAPPINGS, "c")) == [
        "calcification (MLO box cmlo) BI-RADS 4 without its subtype (4A/4B/4C)",
        "assessment 4 without its subtype (4A/4B/4C)",
    ]
    outside = GtFinding("F4", "mass", "2", MASS.attributes, {"cc": (900, 1200, 1100, 1290)})
    assert "outside the image" in _problems(side_items("b", "2") + finding_items(outside, MAPPINGS, "o"))[0]
    wrong = finding_items(MASS, MAPPINGS, "w")
    wrong[0]["value"]["rectanglelabels"] = ["tumour"]
    wrong[1]["value"]["choices"] = ["7"]
    problems = _problems(side_items("e", "2") + wrong)
    assert any("label(s) ['tumour']" in p for p in problems) and any("composition" in p for p in problems)


def test_same_lesion_must_join_cc_to_mlo_of_the_same_description() -> None:
    items = side_items("b", "4B") + finding_items(MASS, MAPPINGS, "m")
    other = GtFinding(
        "F5", "mass", "2", {"mass_shape": "round", "mass_margin": "circumscribed"}, {"cc": (400, 400, 450, 450)}
    )
    items += finding_items(other, MAPPINGS, "n")
    items.append(
        {"from_id": "ncc", "to_id": "mcc", "type": "relation", "direction": "right", "labels": ["same_lesion"]}
    )
    assert _problems(items) == ["same_lesion ncc→mcc must link a CC box to an MLO box"]


def test_invalid_read_is_rejected_then_corrected(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "validation")
    with session_scope(session_factory) as session:
        task = next(t for t in reader_tasks(session, "reader_1", campaign_id, ground_truth(corpus)) if t.gt.findings)
    bare = GtFinding("X", "mass", "4", {}, {"cc": task.gt.findings[0].boxes["cc"]})
    reader = label_studio.reader("reader_1")
    annotation_id = reader.create_annotation(
        task.ls_task_id, side_items("b", "2") + finding_items(bare, task.mappings, "z")
    )
    report = consolidate_campaign(session_factory, label_studio.admin, "validation")
    assert report.revisions_rejected == 1 and report.states["invalid"] == 1
    reader.update_annotation(annotation_id, read_result(task.gt, task.mappings))
    again = consolidate_campaign(session_factory, label_studio.admin, "validation")
    assert again.revisions_new == 1 and again.revisions_rejected == 0 and "invalid" not in again.states
    with session_scope(session_factory) as session:
        revisions = session.scalars(select(AnnotationRevision).order_by(AnnotationRevision.id)).all()
        state = session.get(CampaignTask, task.campaign_task_id).state
    assert [r.valid for r in revisions] == [False, True] and state == "pending"  # reader 2 has not read yet
    assert revisions[0].problems == [
        "mass (CC box zcc) BI-RADS 4 without its subtype (4A/4B/4C)",
        "mass (CC box zcc) without mass_shape and mass_margin",
    ]
