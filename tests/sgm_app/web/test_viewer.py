"""The viewer in a browser: standard hanging at full resolution, zoom, window/level, a prior, findings drawn."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from emr_core.db import session_scope
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedFinding
from tests.sgm_app.web.webenv import WebServer, sign_in

LOADED = (
    "window.sgmViewers && window.sgmViewers.length >= 8 && "
    "window.sgmViewers.every(v => v.world.getItemCount() === 1 && v.world.getItemAt(0).getFullyLoaded())"
)


def _patient_with_prior(server: WebServer) -> tuple[int, int, Instance]:
    """A patient with two studies, the newest one's RCC image; a finding is recorded on it."""
    with session_scope(server.sessions) as session:
        pid = session.scalar(
            select(Study.patient_id)
            .where(Study.patient_id.is_not(None))
            .group_by(Study.patient_id)
            .having(func.count() >= 2)
            .limit(1)
        )
        assert pid is not None, "the corpus has no patient with a prior study"
        newest = session.scalars(select(Study).where(Study.patient_id == pid).order_by(Study.study_date.desc())).first()
        images = {
            f"{i.laterality}{i.view}": i
            for i in session.scalars(select(Instance).join(Series).where(Series.study_id == newest.id))
        }
        rcc, rmlo = images["RCC"], images["RMLO"]
        if session.scalar(select(func.count()).select_from(ConsolidatedFinding)) == 0:
            campaign = AnnotationCampaign(name="web-viewer-test")
            session.add(campaign)
            session.flush()
            task = CampaignTask(
                campaign_id=campaign.id,
                study_id=newest.id,
                laterality="R",
                cc_instance_id=rcc.id,
                mlo_instance_id=rmlo.id,
            )
            session.add(task)
            session.flush()
            session.add(
                ConsolidatedFinding(
                    finding_uid="web-test-finding",
                    campaign_task_id=task.id,
                    study_id=newest.id,
                    laterality="R",
                    finding_type="mass",
                    birads="4",
                    cc_instance_id=rcc.id,
                    cc_xmin=10.0,
                    cc_ymin=20.0,
                    cc_xmax=40.0,
                    cc_ymax=50.0,
                    source="concordant",
                )
            )
        session.expunge(rcc)
        return pid, newest.id, rcc


def test_viewer_hangs_zooms_and_draws_findings(page: Any, web_server: WebServer) -> None:
    pid, study_id, rcc = _patient_with_prior(web_server)
    sign_in(page, "radiologist", f"/ui/patients/{pid}")
    page.get_by_role("link", name="Open viewer").click()
    page.wait_for_function(LOADED, timeout=20_000)
    current = page.get_by_role("region", name="Current")
    assert current.locator(".view").evaluate_all("els => els.map(e => e.dataset.position)") == [
        "RCC",
        "LCC",
        "RMLO",
        "LMLO",
    ]
    assert page.get_by_role("region", name="Prior").locator(".view").count() == 4
    # Full resolution: the image OpenSeadragon opened is as wide as the DICOM matrix.
    width = page.evaluate("window.sgmViewers[0].world.getItemAt(0).source.dimensions.x")
    assert width == rcc.columns
    # The recorded finding is drawn on the RCC image only.
    assert current.locator(f"#view-{study_id}-RCC .finding").count() == 1
    assert current.locator(".finding").count() == 1
    # Zoom with the mouse wheel over the first image; linked views follow.
    before = page.evaluate("window.sgmViewers[0].viewport.getZoom(true)")
    box = page.locator(f"#view-{study_id}-RCC").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(4):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(800)
    after = page.evaluate("window.sgmViewers[0].viewport.getZoom(true)")
    assert after > before * 1.5
    assert page.evaluate("window.sgmViewers[1].viewport.getZoom(true)") > before * 1.5
    # Window/level changes the display filter of every image.
    page.get_by_label("Window (contrast)").fill("50")
    assert "contrast(2.00)" in page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--wl-filter')"
    )
    canvas_filter = page.locator(f"#view-{study_id}-RCC canvas").first.evaluate("c => getComputedStyle(c).filter")
    assert "contrast(2)" in canvas_filter


def test_a_researcher_may_not_open_the_viewer(page: Any, web_server: WebServer) -> None:
    sign_in(page, "researcher", "/ui/patients/1/viewer")
    assert page.get_by_role("heading", name="Not allowed").is_visible()


def test_choosing_no_prior_hangs_the_current_study_alone(page: Any, web_server: WebServer) -> None:
    pid, study_id, _ = _patient_with_prior(web_server)
    sign_in(page, "radiologist", f"/ui/patients/{pid}/viewer")
    assert page.get_by_role("region", name="Prior").count() == 1
    page.locator("#prior-select").select_option(label="None")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_role("region", name="Prior").count() == 0
    assert page.locator(f"#view-{study_id}-RCC").count() == 1
