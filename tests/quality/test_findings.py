"""The findings suite over consolidated reads stored for a real ingest: vocabulary, boxes, same breast."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedFinding, ConsolidatedRead
from quality.gates import birads_vocabulary, check_findings
from quality.suites.findings import findings_suite
from tests.quality.conftest import Emr

ATTRIBUTES = {"mass_shape": "oval", "mass_margin": "circumscribed", "associated_features": ["skin retraction"]}


def _images(session: Any) -> dict[tuple[int, str, str], Instance]:
    rows = session.execute(select(Series.study_id, Instance).join(Instance, Instance.series_id == Series.id))
    return {(study_id, i.laterality, i.view): i for study_id, i in rows}


def _consolidate(emr: Emr, edits: dict[int, dict[str, Any]]) -> list[str]:
    """A read per breast side, a mass on the first four sides (finding k edited by edits[k]); their uids."""
    emr.ingest([emr.corpus / "dicom"])
    uids = []
    with session_scope(emr.sessions) as session:
        images = _images(session)
        campaign = AnnotationCampaign(name="quality")
        session.add(campaign)
        session.flush()
        sides = [(s.id, side) for s in session.scalars(select(Study).order_by(Study.id)) for side in "LR"]
        for k, (study_id, side) in enumerate(sides):
            cc, mlo = images[(study_id, side, "CC")], images[(study_id, side, "MLO")]
            task = CampaignTask(
                campaign_id=campaign.id,
                study_id=study_id,
                laterality=side,
                cc_instance_id=cc.id,
                mlo_instance_id=mlo.id,
            )
            session.add(task)
            session.flush()
            read = {"composition": "b", "assessment": "4B" if k < 4 else "1", **edits.get(k, {}).pop("read", {})}
            session.add(ConsolidatedRead(campaign_task_id=task.id, source="concordant", revision_ids=[], **read))
            if k < 4:
                uids.append(f"F{k}")
                session.add(_finding(task, k, cc, mlo, edits.get(k, {})))
        session.flush()
    return uids


def _finding(task: CampaignTask, k: int, cc: Instance, mlo: Instance, edit: dict[str, Any]) -> ConsolidatedFinding:
    values: dict[str, Any] = {
        "finding_uid": f"F{k}",
        "campaign_task_id": task.id,
        "study_id": task.study_id,
        "laterality": task.laterality,
        "finding_type": "mass",
        "birads": "4B",
        "attributes": dict(ATTRIBUTES),
        "cc_instance_id": cc.id,
        "mlo_instance_id": mlo.id,
        "source": "concordant",
        **{
            f"{v}_{e}": x
            for v in ("cc", "mlo")
            for e, x in zip(("xmin", "ymin", "xmax", "ymax"), (5, 6, 30, 40), strict=True)
        },
    }
    values.update(edit)
    return ConsolidatedFinding(**values)


def _failing(result: Any) -> dict[str, int]:
    return {r.description: r.failing_count for r in result.rules if r.failing_count}


def test_clean_reads_pass(emr: Emr) -> None:
    _consolidate(emr, {})
    with session_scope(emr.sessions) as session:
        result = check_findings(session, birads_vocabulary())
    assert result.success, _failing(result)
    assert result.rows == 18  # 9 studies x 2 sides, four of them with one finding each


def test_seeded_defects_fail_with_counts_and_examples(emr: Emr) -> None:
    edits: dict[int, dict[str, Any]] = {
        0: {"birads": "7"},
        1: {"cc_xmax": 64 + 5},  # the synthetic images are 64 columns wide
        2: {"attributes": {**ATTRIBUTES, "mass_shape": "lobular", "halo": "yes"}},
        5: {"read": {"composition": "e"}},
    }
    _consolidate(emr, edits)
    with session_scope(emr.sessions) as session:
        # Link finding F3's MLO box to the MLO image of the other breast of its study.
        f3 = session.scalars(select(ConsolidatedFinding).where(ConsolidatedFinding.finding_uid == "F3")).one()
        other = "R" if f3.laterality == "L" else "L"
        f3.mlo_instance_id = _images(session)[(f3.study_id, other, "MLO")].id
    with session_scope(emr.sessions) as session:
        result = check_findings(session, birads_vocabulary())
    assert not result.success and result.blocks_export
    assert _failing(result) == {
        "composition is in the BI-RADS vocabulary": 1,
        "birads is in the BI-RADS vocabulary": 1,
        "every finding attribute and value is in the BI-RADS vocabulary": 1,
        "CC box lies inside its image": 1,
        "linked CC and MLO boxes are on images of the finding's breast": 1,
    }
    examples = {r.description: r.examples for r in result.rules if r.examples}
    assert examples["birads is in the BI-RADS vocabulary"][0]["finding_uid"] == "F0"
    assert examples["birads is in the BI-RADS vocabulary"][0]["birads"] == "7"
    assert examples["CC box lies inside its image"][0]["finding_uid"] == "F1"
    assert examples["CC box lies inside its image"][0]["cc_xmax"] == 69
    unknown = examples["every finding attribute and value is in the BI-RADS vocabulary"][0]
    assert unknown["finding_uid"] == "F2" and unknown["unknown_attributes"] == "mass_shape=lobular; halo=yes"
    crossed = examples["linked CC and MLO boxes are on images of the finding's breast"][0]
    assert crossed["finding_uid"] == "F3" and crossed["mlo_laterality"] != crossed["laterality"]


def test_vocabulary_is_a_parameter() -> None:
    with pytest.raises(ValueError, match="lacks"):
        findings_suite({"birads": ["2"]})
    suite = findings_suite({"composition": ["a"], "assessment": ["1"], "finding_type": ["mass"], "birads": ["2"]})
    assert suite.rules[0].kwargs["value_set"] == ["a"]


def test_nothing_consolidated_passes(emr: Emr) -> None:
    with session_scope(emr.sessions) as session:
        result = check_findings(session, birads_vocabulary())
    assert result.success and result.rows == 0
