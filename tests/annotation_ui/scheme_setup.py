"""Provision a campaign under any reading scheme with the session's reader accounts (as `sgm campaign create`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import provision_campaign
from annotation_ui.readers import register_reader
from emr_core.db import session_scope
from emr_core.models_annotation import AnnotationReader
from emr_core.settings import Settings
from tests.support.annotation_scenario import ingest
from tests.support.lsenv import LabelStudioEnv

# scheme -> (reader accounts, senior account, adjudicator account); the senior is reader 2's account
PEOPLE: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "single": (("reader_1",), None, None),
    "ai_assisted": (("reader_1",), None, None),
    "blind_double": (("reader_1", "reader_2"), None, "adjudicator"),
    "blind_double_ai": (("reader_1", "reader_2"), None, "adjudicator"),
    "open_consensus": (("reader_1", "reader_2"), None, None),
    "senior_review": (("reader_1",), "reader_2", None),
}
# the account behind each role
ACCOUNT = {"reader_1": "reader_1", "reader_2": "reader_2", "senior": "reader_2", "adjudicator": "adjudicator"}


def provision_scheme(
    env: LabelStudioEnv, factory: sessionmaker[Session], settings: Settings, corpus: Path, name: str, scheme: str
) -> int:
    """Ingest, register the readers, provision a campaign of every study under `scheme`; returns its id."""
    study_ids = ingest(factory, settings, corpus)
    with session_scope(factory) as session:
        known = set(session.scalars(select(AnnotationReader.email)))
        for account in env.readers.values():
            if account.email not in known:
                register_reader(session, account)
    readers, senior, adjudicator = PEOPLE[scheme]
    email = {role: a.email for role, a in env.readers.items()}
    report = provision_campaign(
        factory,
        settings,
        env.admin,
        name,
        study_ids,
        [email[r] for r in readers],
        email[adjudicator] if adjudicator else None,
        senior=email[senior] if senior else None,
        scheme=scheme,
        seed=3,
    )
    assert (report.exams, report.tasks, report.skipped) == (8, 16, [])
    return report.campaign_id
