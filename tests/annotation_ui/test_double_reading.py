"""End to end against a real Label Studio: provision, two blind reads with disagreements, consolidation,
agreement (checked against scikit-learn), adjudication, findings in DICOM coordinates, exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.adjudication import adjudication_queue
from annotation_ui.campaigns import BLIND_PROJECT_OPTIONS, assignments_of, provision_campaign
from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.exports import export_campaign
from annotation_ui.readers import register_reader
from emr_core.db import session_scope
from emr_core.enums import LedgerStage
from emr_core.models import AuditEvent, LedgerEntry, Study
from emr_core.models_annotation import AnnotationRevision, ConsolidatedFinding, ConsolidatedRead
from emr_core.settings import Settings
from tests.support.annotation_scenario import (
    LsTask,
    finding_items,
    ground_truth,
    ingest,
    read_result,
    reader_tasks,
    side_items,
)
from tests.support.lsenv import LabelStudioEnv


def provision(env: LabelStudioEnv, factory: sessionmaker[Session], settings: Settings, corpus: Path, name: str) -> int:
    """Ingest, register the three readers, provision a campaign over every study; returns its id."""
    study_ids = ingest(factory, settings, corpus)
    with session_scope(factory) as session:
        for account in env.readers.values():
            register_reader(session, account)
    emails = {role: a.email for role, a in env.readers.items()}
    report = provision_campaign(
        factory,
        settings,
        env.admin,
        name,
        study_ids,
        (emails["reader_1"], emails["reader_2"]),
        emails["adjudicator"],
        seed=3,
    )
    assert (report.exams, report.tasks, report.skipped) == (8, 16, [])
    return report.campaign_id


def reader_2_result(index: int, t: LsTask) -> tuple[list, str]:
    """Reader 2 disagrees on purpose on a few sides; returns the result and what was changed."""
    gt, finding_sides = t.gt, index  # index: rank among the sides with (or without) findings
    if gt.findings and finding_sides == 0:
        return side_items(gt.composition, "1"), "missed finding"
    if gt.findings and finding_sides == 1:
        f = gt.findings[0]
        shift = 300 if f.boxes["mlo"][3] + 300 <= t.mappings["mlo"].dicom_rows else -300
        x0, y0, x1, y1 = f.boxes["mlo"]
        far = {"cc": f.boxes["cc"], "mlo": (x0, y0 + shift, x1, y1 + shift)}
        items = side_items(gt.composition, gt.assessment) + finding_items(f, t.mappings, "x", far)
        for k, other in enumerate(gt.findings[1:]):
            items += finding_items(other, t.mappings, f"y{k}")
        return items, "MLO box elsewhere"
    if not gt.findings and finding_sides == 0:
        return side_items("abcd"[("abcd".index(gt.composition) + 1) % 4], gt.assessment), "composition"
    if not gt.findings and finding_sides == 1:
        return side_items(gt.composition, "2" if gt.assessment == "1" else "1"), "assessment"
    return read_result(gt, t.mappings), ""


def post_reads(env: LabelStudioEnv, factory: sessionmaker[Session], campaign_id: int, corpus: Path) -> dict[int, str]:
    """Both readers annotate every task in their own order; returns the deliberate disagreements by task."""
    gt = ground_truth(corpus)
    with session_scope(factory) as session:
        tasks = {role: reader_tasks(session, role, campaign_id, gt) for role in ("reader_1", "reader_2")}
    for t in tasks["reader_1"]:
        env.reader("reader_1").create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))
    changed, ranks = {}, {True: 0, False: 0}
    for t in sorted(tasks["reader_2"], key=lambda t: t.campaign_task_id):
        result, what = reader_2_result(ranks[bool(t.gt.findings)], t)
        ranks[bool(t.gt.findings)] += 1
        env.reader("reader_2").create_annotation(t.ls_task_id, result)
        if what:
            changed[t.campaign_task_id] = what
    return changed


def test_provisioning_blind_projects_random_order(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "provisioning")
    gt = ground_truth(corpus)
    with session_scope(session_factory) as session:
        orders = {
            r: [t.campaign_task_id for t in reader_tasks(session, r, campaign_id, gt)] for r in ("reader_1", "reader_2")
        }
        projects = {r: a.ls_project_id for r, a in assignments_of(session, campaign_id).items()}
    assert sorted(orders["reader_1"]) == sorted(orders["reader_2"]) and orders["reader_1"] != orders["reader_2"]
    for role in ("reader_1", "reader_2"):
        project = label_studio.admin.get(f"/api/projects/{projects[role]}")
        for key, value in BLIND_PROJECT_OPTIONS.items():
            assert project[key] == value, (role, key)
        assert project["task_number"] == 16 and project["total_predictions_number"] == 0
        task = label_studio.admin.sdk.tasks.list(project=projects[role], fields="all").items[0]
        assert set(task.data) == {"cc", "mlo", "side", "task_ref"}  # no patient data, no prior report
        image = label_studio.reader(role)._http.get(label_studio.admin.url + task.data["cc"], timeout=30)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert len(list((ls_settings.root / "rendered" / "1024").glob("*.png"))) >= 32  # rendered once, cached
    with session_scope(session_factory) as session:
        assert session.scalars(select(AuditEvent.event_type)).all()[-1] == "annotation.campaign_provisioned"


def test_double_reading_consolidation_and_adjudication(
    label_studio: LabelStudioEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
    tmp_path: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "double reading")
    changed = post_reads(label_studio, session_factory, campaign_id, corpus)
    assert len(changed) == 4
    report = consolidate_campaign(session_factory, label_studio.admin, "double reading")
    assert report.revisions_new == 32 and report.revisions_rejected == 0 and report.violations_new == 0
    assert report.states == {"concordant": 12, "discordant": 4} and report.queued_for_adjudication == 4
    with session_scope(session_factory) as session:
        queue = adjudication_queue(session, campaign_id)
        assert {t.id for t in queue} == set(changed)
        reasons = {t.id: " ".join(t.discordance) for t in queue}
    for task_id, what in changed.items():
        expected = {
            "missed finding": "only read 1 has a",
            "MLO box elsewhere": "only read 2 has a",
            "composition": "composition differs",
            "assessment": "assessment differs",
        }[what]
        assert expected in reasons[task_id], (what, reasons[task_id])
    check_agreement(report.agreement, label_studio, session_factory, campaign_id, corpus)
    adjudicate(label_studio, session_factory, campaign_id, corpus)
    final = consolidate_campaign(session_factory, label_studio.admin, "double reading")
    assert final.states == {"concordant": 12, "adjudicated": 4} and final.queued_for_adjudication == 0
    check_findings(session_factory, campaign_id, corpus)
    check_exports(session_factory, campaign_id, tmp_path)


def check_agreement(
    agreement: dict, env: LabelStudioEnv, factory: sessionmaker[Session], campaign_id: int, corpus: Path
) -> None:
    """The stored kappas equal scikit-learn's on the side-level values the readers posted."""
    with session_scope(factory) as session:
        revisions = session.scalars(select(AnnotationRevision).order_by(AnnotationRevision.campaign_task_id)).all()
        by_task: dict[int, dict[int, list]] = {}
        for rev in revisions:
            by_task.setdefault(rev.campaign_task_id, {})[rev.assignment_id] = rev.result
    pairs = [sorted(v.items()) for v in by_task.values()]

    def side(result: list, name: str) -> str:
        values = {
            i["from_name"]: i["value"]["choices"][0]
            for i in result
            if i.get("type") == "choices" and "side" in i.get("id", "")
        }
        return values[name] + values.get("assessment_subtype", "") if name == "assessment" else values[name]

    for name in ("composition", "assessment"):
        r1 = [side(p[0][1], name) for p in pairs]
        r2 = [side(p[1][1], name) for p in pairs]
        assert agreement[f"kappa_{name}"] == pytest.approx(cohen_kappa_score(r1, r2), abs=1e-12)
    assert agreement["sides"] == 16
    # 3 true findings: reader 2 missed one and misplaced one on MLO (so that one does not match either).
    assert (agreement["lesions_reader_1"], agreement["lesions_reader_2"], agreement["lesions_matched"]) == (3, 2, 1)
    assert agreement["lesion_f1"] == pytest.approx(2 * 1 / 5)


def adjudicate(env: LabelStudioEnv, factory: sessionmaker[Session], campaign_id: int, corpus: Path) -> None:
    """The adjudicator sees both reads as predictions and records the ground truth."""
    gt = ground_truth(corpus)
    with session_scope(factory) as session:
        tasks = reader_tasks(session, "adjudicator", campaign_id, gt)
    assert len(tasks) == 4
    for t in tasks:
        predictions = env.admin.sdk.predictions.list(task=t.ls_task_id)
        assert sorted(p.model_version for p in predictions) == ["read A", "read B"]
        env.reader("adjudicator").create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))


def check_findings(factory: sessionmaker[Session], campaign_id: int, corpus: Path) -> None:
    """Every true lesion is one finding holding its CC and MLO boxes in DICOM pixels, within 1 pixel."""
    gt = ground_truth(corpus)
    with session_scope(factory) as session:
        rows = session.execute(select(ConsolidatedFinding, Study.study_uid).join(Study)).all()
        reads = session.scalars(select(ConsolidatedRead)).all()
        annotated = session.scalars(
            select(LedgerEntry.study_id).where(LedgerEntry.stage == LedgerStage.ANNOTATED)
        ).all()
    truth = {f.finding_id: (uid, side, f) for (uid, side), s in gt.items() for f in s.findings}
    assert len(rows) == len(truth) == 3 and len(reads) == 16 and len(annotated) == 8
    for finding, study_uid in rows:
        matches = [
            f
            for uid, side, f in truth.values()
            if uid == study_uid and side == finding.laterality and abs(f.boxes["cc"][0] - finding.cc_xmin) <= 1
        ]
        assert len(matches) == 1
        f = matches[0]
        assert (finding.finding_type, finding.birads, finding.attributes) == (f.finding_type, f.birads, f.attributes)
        for view in ("cc", "mlo"):
            got = [getattr(finding, f"{view}_{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
            assert max(abs(a - b) for a, b in zip(got, f.boxes[view], strict=False)) <= 1.0, (view, got, f.boxes[view])


def check_exports(factory: sessionmaker[Session], campaign_id: int, out: Path) -> None:
    with session_scope(factory) as session:
        report = export_campaign(session, campaign_id, out)
    with report.breast_csv.open() as fh:
        breast = list(csv.DictReader(fh))
    with report.finding_csv.open() as fh:
        findings = [r for r in csv.DictReader(fh) if r["finding_id"]]
    coco = json.loads(report.coco_json.read_text())
    assert len(breast) == 32 and {r["view_position"] for r in breast} == {"CC", "MLO"}
    assert breast[0]["breast_density"].startswith("DENSITY ") and breast[0]["breast_birads"].startswith("BI-RADS ")
    assert len(findings) == 6 and len({r["finding_id"] for r in findings}) == 3  # one id, two views
    assert len(coco["annotations"]) == 6 and len(coco["images"]) == 32
    ann = coco["annotations"][0]
    row = next(
        r
        for r in findings
        if r["image_id"] == next(i["sop_instance_uid"] for i in coco["images"] if i["id"] == ann["image_id"])
    )
    assert ann["bbox"][0] == pytest.approx(float(row["xmin"])) and ann["bbox"][2] == pytest.approx(
        float(row["xmax"]) - float(row["xmin"]), abs=0.02
    )
