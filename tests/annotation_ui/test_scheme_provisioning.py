"""Provisioning under every reading scheme against a real Label Studio: one project per role, tasks where the
scheme reads from the start, predictions shown only where the scheme allows; people that do not fit are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import CampaignError, assignments_of, provision_campaign
from annotation_ui.consolidation import decide_campaign
from annotation_ui.scheme_provision import RolesError, roles_for
from annotation_ui.schemes import SCHEMES, scheme_named
from emr_core.db import session_scope
from emr_core.models_annotation import AnnotationCampaign, LabelStudioTask
from emr_core.settings import Settings
from tests.annotation_ui.scheme_setup import PEOPLE, provision_scheme
from tests.support.lsenv import LabelStudioEnv

# scheme -> role -> (tasks at provisioning, predictions shown); written out by hand
PROJECTS = {
    "single": {"reader_1": (16, False)},
    "ai_assisted": {"reader_1": (16, True)},
    "blind_double": {"reader_1": (16, False), "reader_2": (16, False), "adjudicator": (0, False)},
    "blind_double_ai": {"reader_1": (16, False), "reader_2": (16, False), "adjudicator": (0, True)},
    "open_consensus": {"reader_1": (16, False), "reader_2": (16, False)},
    "senior_review": {"reader_1": (16, False), "senior": (0, False)},
}


def test_every_scheme_is_provisioned_here() -> None:
    assert set(PROJECTS) == set(SCHEMES) == set(PEOPLE)


@pytest.mark.parametrize(
    ("scheme", "readers", "senior", "adjudicator", "message"),
    [
        ("single", ["a@x", "b@x"], None, None, "scheme 'single' takes 1 --reader, got 2"),
        ("blind_double", ["a@x"], None, "c@x", "scheme 'blind_double' takes 2 --readers, got 1"),
        ("blind_double", ["a@x", "b@x"], None, None, "scheme 'blind_double' needs --adjudicator"),
        ("senior_review", ["a@x"], None, None, "scheme 'senior_review' needs --senior"),
        ("senior_review", ["a@x"], "b@x", "c@x", "scheme 'senior_review' has no adjudicator; leave out --adjudicator"),
        ("ai_assisted", ["a@x"], "b@x", None, "scheme 'ai_assisted' has no senior; leave out --senior"),
        ("senior_review", ["a@x"], "A@x ", None, "the 2 people of a 'senior_review' campaign must be different"),
        ("open_consensus", ["a@x", "a@x"], None, None, "must be different people"),
    ],
)
def test_people_that_do_not_fit_the_scheme(
    scheme: str, readers: list[str], senior: str | None, adjudicator: str | None, message: str
) -> None:
    with pytest.raises(RolesError, match=re.escape(message)):
        roles_for(scheme_named(scheme), readers, senior, adjudicator)


def test_a_refusal_creates_nothing(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings
) -> None:
    before = len(label_studio.admin.get("/api/projects/", page_size=1000)["results"])
    with pytest.raises(CampaignError, match=r"^unknown reading scheme 'triple'"):
        provision_campaign(session_factory, ls_settings, label_studio.admin, "x", [1], ["a@x"], scheme="triple")
    with pytest.raises(CampaignError, match=r"^scheme 'blind_double' needs --adjudicator$"):
        provision_campaign(session_factory, ls_settings, label_studio.admin, "x", [1], ["a@x", "b@x"])
    assert len(label_studio.admin.get("/api/projects/", page_size=1000)["results"]) == before
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AnnotationCampaign)) == 0


@pytest.mark.parametrize("scheme", sorted(PROJECTS))
def test_each_scheme_is_provisioned(
    scheme: str,
    label_studio: LabelStudioEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, f"prov-{scheme}", scheme)
    with session_scope(session_factory) as session:
        assert session.get_one(AnnotationCampaign, campaign_id).scheme == scheme
        assignments = assignments_of(session, campaign_id)
        tasks = {
            role: session.scalar(
                select(func.count()).select_from(LabelStudioTask).where(LabelStudioTask.assignment_id == a.id)
            )
            for role, a in assignments.items()
        }
        project_ids = {role: a.ls_project_id for role, a in assignments.items()}
    assert {role: n for role, n in tasks.items()} == {r: n for r, (n, _) in PROJECTS[scheme].items()}
    for role, pid in project_ids.items():
        project = label_studio.admin.get(f"/api/projects/{pid}")
        assert project["task_number"] == PROJECTS[scheme][role][0], (role, project["task_number"])
        assert project["show_collab_predictions"] is PROJECTS[scheme][role][1], role
        assert project["maximum_annotations"] == 1
        assert ("blind read" in project["title"]) is (scheme.startswith("blind") and role.startswith("reader"))
    # Deciding a campaign before any read: every side pending, whatever roles the scheme has (no KeyError)
    report = decide_campaign(session_factory, f"prov-{scheme}")
    assert (report.states, report.findings) == ({"pending": 16}, 0)
