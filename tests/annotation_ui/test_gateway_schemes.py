"""Each reading scheme through the gateway: who could open and who could submit in which project, per phase.

The expectations are written out here by hand (not derived from annotation_ui.schemes) so that a wrong scheme
table fails the test."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of
from annotation_ui.scheme_admin import set_phase
from annotation_ui.schemes import ADJUDICATION, SCHEMES
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.models_annotation import AnnotationCampaign, LabelStudioTask
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv
from tests.annotation_ui.scheme_setup import ACCOUNT, provision_scheme
from tests.support.lsenv import LabelStudioEnv

W, R = "write", "read"  # may submit there / may only look
EMPTY = "?"  # may open the project, which has no task yet (a senior's before any first read is submitted)
# scheme -> phase -> viewer role -> {owner role of a project: W or R}; absent = 403
EXPECTED: dict[str, dict[str, dict[str, dict[str, str]]]] = {
    "single": {"reading": {"reader_1": {"reader_1": W}, "reader_2": {}, "adjudicator": {}}},
    "blind_double": {
        "reading": {"reader_1": {"reader_1": W}, "reader_2": {"reader_2": W}, "adjudicator": {}},
        "adjudication": {
            "reader_1": {"reader_1": W},
            "reader_2": {"reader_2": W},
            "adjudicator": {"adjudicator": W},
        },
    },
    "blind_double_ai": {
        "reading": {"reader_1": {"reader_1": W}, "reader_2": {"reader_2": W}, "adjudicator": {}},
        "adjudication": {
            "reader_1": {"reader_1": W},
            "reader_2": {"reader_2": W},
            "adjudicator": {"adjudicator": W},
        },
    },
    "open_consensus": {
        "reading": {
            "reader_1": {"reader_1": W, "reader_2": R},
            "reader_2": {"reader_2": W, "reader_1": R},
            "adjudicator": {},
        }
    },
    # no first read submitted yet: the senior's project is empty and the first reader's is closed to them (the
    # per-task review is in test_senior_review.py)
    "senior_review": {
        "reading": {"reader_1": {"reader_1": W}, "senior": {"senior": EMPTY}, "adjudicator": {}},
        "review": {"reader_1": {"reader_1": R}, "senior": {"senior": EMPTY}, "adjudicator": {}},
    },
    "ai_assisted": {"reading": {"reader_1": {"reader_1": W}, "reader_2": {}, "adjudicator": {}}},
}


def test_every_scheme_is_tested() -> None:
    assert set(EXPECTED) == set(SCHEMES)
    assert SCHEMES["blind_double_ai"].predictions_shown("adjudicator", ADJUDICATION)
    assert not SCHEMES["blind_double"].predictions_shown("adjudicator", ADJUDICATION)


def _queue_one(factory: sessionmaker[Session], env: LabelStudioEnv, campaign_id: int) -> None:
    """One side queued for adjudication (as consolidation would), which opens the adjudication phase."""
    with session_scope(factory) as session:
        assignments = assignments_of(session, campaign_id)
        first = session.scalars(
            select(LabelStudioTask).where(LabelStudioTask.assignment_id == assignments["reader_1"].id)
        ).first()
        ls_id = env.admin.import_tasks(
            assignments["adjudicator"].ls_project_id, [env.admin.get(f"/api/tasks/{first.ls_task_id}")["data"]]
        )[0]
        session.add(
            LabelStudioTask(
                assignment_id=assignments["adjudicator"].id,
                campaign_task_id=first.campaign_task_id,
                ls_task_id=ls_id,
                position=0,
            )
        )


def _first_task(factory: sessionmaker[Session], project_id: int) -> int | None:
    from emr_core.models_annotation import ReaderAssignment

    with session_scope(factory) as session:
        return session.scalar(
            select(LabelStudioTask.ls_task_id)
            .join(ReaderAssignment, ReaderAssignment.id == LabelStudioTask.assignment_id)
            .where(ReaderAssignment.ls_project_id == project_id)
            .order_by(LabelStudioTask.position)
        )


def _seen(gateway: GatewayEnv, token: str, project_id: int, task_id: int | None) -> str | None:
    """What one account could do with one project: W, R or None; an empty read probes submitting (400 = passed)."""
    http = gateway.as_token(token)
    opened = http.get(f"{gateway.url}/api/projects/{project_id}", timeout=60).status_code
    if task_id is not None:
        assert http.get(f"{gateway.url}/api/tasks/{task_id}", timeout=60).status_code == opened
    if opened == 403:
        return None
    assert opened == 200
    if task_id is None:
        return EMPTY
    submitted = http.post(f"{gateway.url}/api/tasks/{task_id}/annotations", json={"result": []}, timeout=60)
    assert submitted.status_code in (400, 403), submitted.text
    return W if submitted.status_code == 400 else R


@pytest.mark.parametrize("scheme", sorted(EXPECTED))
def test_who_saw_what(
    scheme: str,
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, f"scheme-{scheme}", scheme)
    with session_scope(session_factory) as session:
        projects = {a.role: a.ls_project_id for a in assignments_of(session, campaign_id).values()}
    for phase, expected in EXPECTED[scheme].items():
        if phase == "adjudication":
            _queue_one(session_factory, label_studio, campaign_id)  # the phase follows from the queue
        elif phase != "reading":
            with session_scope(session_factory) as session:
                set_phase(session, session.get(AnnotationCampaign, campaign_id).name, phase)
        seen = {
            viewer: {
                owner: got
                for owner, pid in projects.items()
                if (
                    got := _seen(
                        gateway, label_studio.readers[ACCOUNT[viewer]].token, pid, _first_task(session_factory, pid)
                    )
                )
            }
            for viewer in expected
        }
        assert seen == expected, (scheme, phase)
    with session_scope(session_factory) as session:
        opened = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "annotation.task_opened")).all()
        by_whom = {(e.user_id, e.detail["ls_task_id"]) for e in opened}
    allowed_views = sum(
        sum(got != EMPTY for got in v.values()) for phase in EXPECTED[scheme].values() for v in phase.values()
    )
    assert len(by_whom) >= 1 and len(opened) == allowed_views, (scheme, len(opened), allowed_views)
