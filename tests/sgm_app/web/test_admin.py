"""Administration in a browser: users and roles, the audit log with filters and chain verification, charts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from emr_core.db import session_scope
from emr_core.models import AuditEvent
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in


@BOTH_BACKENDS
def test_admin_adds_a_user_with_an_error_first(page: Any, web_server: WebServer) -> None:
    sign_in(page, "admin", "/ui/admin/users")
    page.get_by_label("User name").fill("nurse.lan")
    page.get_by_label("Role", exact=True).select_option("clinician")
    page.locator("#f-password").fill("short")
    page.get_by_role("button", name="Add user").click()
    assert page.locator("#f-password-error").inner_text() == "Use at least 10 characters."
    assert page.get_by_label("User name").input_value() == "nurse.lan"
    page.locator("#f-password").fill("a long enough secret")
    page.get_by_role("button", name="Add user").click()
    assert page.get_by_role("status").inner_text() == "Saved."
    assert page.get_by_role("cell", name="nurse.lan", exact=True).is_visible()


@BOTH_BACKENDS
def test_audit_log_filters_and_the_chain_is_verified_from_the_page(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician", "/ui/patients/1")  # leaves a Patient Record read by the clinician
    page.context.clear_cookies()
    sign_in(page, "admin", "/ui/admin/audit")
    page.get_by_label("User", exact=True).fill("clinician")
    page.get_by_label("Patient record").fill("1")
    page.get_by_label("Event type").select_option("patient")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    assert rows.count() >= 1
    assert all("clinician" in t and "emr:1" in t for t in rows.all_inner_texts())
    assert rows.first.locator("td").all_inner_texts()[3:5] == ["Read", "Success"]  # words, not DICOM codes
    from playwright.sync_api import expect  # here: the browser fixture says what a missing playwright means

    page.get_by_label("Language").select_option("vi")  # the role reads in the page's language too
    expect(page.locator("html")).to_have_attribute("lang", "vi")  # retried across the reload
    expect(page.locator("tbody tr").first).to_contain_text("bác sĩ lâm sàng")
    page.get_by_label("Ngôn ngữ").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Verify the chain").click()
    assert page.get_by_role("status").inner_text().startswith("The audit chain is intact")
    # Someone edits an event behind the application's back: the page says so.
    with session_scope(web_server.sessions) as session:
        victim = session.scalar(select(AuditEvent.id).where(AuditEvent.user_id == "clinician").limit(1))
        session.execute(update(AuditEvent).where(AuditEvent.id == victim).values(user_id="somebody"))
    try:
        page.goto("/ui/admin/audit")
        page.get_by_role("button", name="Verify the chain").click()
        alert = page.get_by_role("alert")
        assert "The audit chain is broken" in alert.inner_text()
    finally:
        with session_scope(web_server.sessions) as session:
            session.execute(update(AuditEvent).where(AuditEvent.id == victim).values(user_id="clinician"))


def test_reports_draw_charts_and_keep_tables(page: Any, web_server: WebServer) -> None:
    sign_in(page, "admin", "/ui/reports")
    page.wait_for_function("window.sgmCharts && window.sgmCharts.length >= 1")
    assert page.locator("canvas.chart").count() >= 1
    assert page.evaluate("window.sgmCharts[0].data.datasets[0].data.reduce((a, b) => a + b, 0)") > 0
    assert page.get_by_role("heading", level=2).count() == 5


def test_researcher_sees_only_pseudonyms(page: Any, web_server: WebServer) -> None:
    sign_in(page, "researcher", "/ui/research")
    page.wait_for_function("window.sgmCharts && window.sgmCharts.length == 1")
    text = page.inner_text("main")
    with session_scope(web_server.sessions) as session:
        from emr_core.models import Patient

        names = session.scalars(select(Patient.full_name)).all()
    assert not any(name in text for name in names)
    assert page.locator("tbody tr").count() >= 1
    # The follow-up fixture reported three exams BI-RADS 3; the others have no report yet.
    assert page.evaluate("window.sgmCharts[0].data.labels") == ["BI-RADS 3", "not reported"]
