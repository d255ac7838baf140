"""Worklists in a browser: close, reschedule and reassign follow-up tasks; decide a linking review item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from emr_core.db import session_scope
from emr_core.enums import LinkStatus
from emr_core.models import LinkDecision, Patient, Study
from emr_core.models_clinical import Task, User
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in


def _task(server: WebServer, task_id: int) -> Task:
    with session_scope(server.sessions) as session:
        task = session.get(Task, task_id)
        session.expunge(task)
        return task


@BOTH_BACKENDS
def test_close_reschedule_and_reassign_tasks(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician", "/ui/tasks?overdue=1")
    rows = page.locator("tbody tr")
    assert rows.count() >= 1, "the synthetic follow-up produced no overdue task for clinicians"
    assert rows.first.locator(".badge.overdue").count() == 1
    first_id = int(rows.first.get_attribute("id").split("-")[1])
    rows.first.get_by_role("button", name="Mark done").click()
    assert page.get_by_role("status").inner_text() == "Task closed as done."
    closed = _task(web_server, first_id)
    assert closed.status == "done" and closed.closed_by == "clinician"
    assert page.locator(f"#task-{first_id}").count() == 0

    page.goto("/ui/tasks")
    row = page.locator("tbody tr").first
    task_id = int(row.get_attribute("id").split("-")[1])
    row.get_by_text("Reassign or reschedule").click()
    row.get_by_label("New due date").fill("2001-01-01")
    row.get_by_role("button", name="Reschedule").click()
    error = page.locator(f"#due-{task_id}-error")
    assert error.inner_text() == "The new date must not be in the past."
    assert _task(web_server, task_id).due_date != "2001-01-01"
    row = page.locator(f"#task-{task_id}")
    row.get_by_label("New due date").fill("2099-06-30")
    row.get_by_role("button", name="Reschedule").click()
    assert page.get_by_role("status").inner_text() == "Task rescheduled."
    assert str(_task(web_server, task_id).due_date) == "2099-06-30"

    row = page.locator(f"#task-{task_id}")
    row.get_by_text("Reassign or reschedule").click()
    row.get_by_label("Assign to").select_option(label="radiologist (radiologist)")
    row.get_by_role("button", name="Reassign").click()
    assert page.get_by_role("status").inner_text() == "Task reassigned."
    with session_scope(web_server.sessions) as session:
        radiologist = session.scalar(select(User.id).where(User.username == "radiologist"))
    assert _task(web_server, task_id).assignee_user_id == radiologist


def _queue_a_study(server: WebServer) -> tuple[str, int, int]:
    """Put one linked study back in the review queue, with two candidate patients as evidence."""
    with session_scope(server.sessions) as session:
        study = session.scalars(select(Study).where(Study.patient_id.is_not(None)).order_by(Study.id)).first()
        other = session.scalar(select(Patient.id).where(Patient.id != study.patient_id).order_by(Patient.id))
        candidates = [
            {
                "patient_id": pid,
                "birth_date": None,
                "sex": "F",
                "identifiers": [],
                "via": "demographics",
                "score": score,
                "name_similarity": score,
                "birth_date_match": "missing",
                "sex_agrees": True,
            }
            for pid, score in ((study.patient_id, 0.81), (other, 0.78))
        ]
        session.execute(
            update(LinkDecision)
            .where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
            .values(
                status=LinkStatus.REVIEW.value,
                evidence={
                    "header": {"name": study.dicom_patient_name, "accession": study.accession_number},
                    "reasons": ["two candidates close in score", "accession match but birth date differs (near)"],
                    "candidates": candidates,
                },
            )
        )
        return study.study_uid, other, study.id


@BOTH_BACKENDS
def test_steward_decides_a_review_item_in_one_click(page: Any, web_server: WebServer) -> None:
    _, other, study_id = _queue_a_study(web_server)
    sign_in(page, "data_steward", "/ui/review")
    item = page.locator("section.card", has_text="two candidates close in score")
    assert item.get_by_role("columnheader", name="Candidate 2").is_visible()
    item.get_by_role("button", name="Link to candidate 2").click()
    assert page.get_by_role("status").inner_text() == "Decision recorded."
    with session_scope(web_server.sessions) as session:
        current = session.scalar(
            select(LinkDecision).where(LinkDecision.study_id == study_id, LinkDecision.is_current.is_(True))
        )
        assert current.status == LinkStatus.MANUAL.value and current.patient_id == other
        assert current.decided_by == "data_steward"
    assert page.locator("section.card", has_text="two candidates close in score").count() == 0


def test_the_review_queue_reads_in_vietnamese(page: Any, web_server: WebServer) -> None:
    _queue_a_study(web_server)
    sign_in(page, "data_steward", "/ui/review")
    page.get_by_label("Language").select_option("vi")  # submits by itself
    page.get_by_role("heading", name="Duyệt liên kết hồ sơ", level=1).wait_for()
    item = page.locator("section.card").first
    badges = item.locator(".badge").all_inner_texts()
    assert badges[:2] == [
        "hai ứng viên có điểm gần nhau",
        "khớp theo số tiếp nhận nhưng ngày sinh khác (gần giống (có thể gõ nhầm))",
    ]
    evidence = item.get_by_role("row", name="Bằng chứng").inner_text()
    assert "thông tin nhân khẩu" in evidence and "demographics" not in evidence
    name = item.get_by_role("row", name="Họ tên").locator("td").first.inner_text()
    assert name and "^" not in name


def test_a_clinician_may_not_decide_links(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician", "/ui/review")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
