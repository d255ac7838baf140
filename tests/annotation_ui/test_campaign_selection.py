"""Which studies a new campaign takes: mammography studies oldest first, named ones, a limit, and `--not-in`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import campaign_study_ids
from emr_core.db import session_scope
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask
from emr_core.settings import Settings
from tests.support.annotation_scenario import ingest


def _take(session: Session, name: str, study_ids: list[int]) -> None:
    """A campaign holding one side of each study (what `--not-in` looks at)."""
    campaign = AnnotationCampaign(name=name)
    session.add(campaign)
    session.flush()
    for study_id in study_ids:
        image = session.scalars(select(Instance).join(Series).where(Series.study_id == study_id)).first()
        assert image is not None
        session.add(
            CampaignTask(
                campaign_id=campaign.id, study_id=study_id, laterality="L",
                cc_instance_id=image.id, mlo_instance_id=image.id,
            )
        )  # fmt: skip
    session.flush()


def test_not_in_leaves_out_the_studies_of_named_campaigns(
    session_factory: sessionmaker[Session], settings: Settings, corpus: Path
) -> None:
    study_ids = ingest(session_factory, settings, corpus)
    assert len(study_ids) == 8
    with session_scope(session_factory) as session:
        assert campaign_study_ids(session) == study_ids
        assert campaign_study_ids(session, limit=3) == study_ids[:3]
        _take(session, "first", study_ids[:5])
        _take(session, "second", study_ids[5:6])
        assert campaign_study_ids(session, not_in=["first"]) == study_ids[5:]
        assert campaign_study_ids(session, not_in=["first", "second"], limit=1) == study_ids[6:7]
        assert campaign_study_ids(session, not_in=["no-such-campaign"]) == study_ids
        named = session.get_one(Study, study_ids[2]).study_uid
        assert campaign_study_ids(session, [named]) == [study_ids[2]]
        assert campaign_study_ids(session, [named], not_in=["first"]) == []
