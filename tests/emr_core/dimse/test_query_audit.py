"""Every C-FIND we send to the PACS is audited (Query, 110112): keys, peer, answers; a refused query too."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dimse import scu
from emr_core.dimse.pacs import PacsClient, StudyQuery
from emr_core.models import AuditEvent
from emr_core.settings import Settings
from tests.emr_core.dimse.peers import Orthanc, free_port, start_orthanc
from tests.support.dicom_factory import write_mg


def _queries(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with session_scope(factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_id == "110112").order_by(AuditEvent.id)))


@pytest.fixture(scope="module")
def pacs(orthanc_factory: list[Orthanc], tmp_path_factory: pytest.TempPathFactory) -> Orthanc:
    folder = tmp_path_factory.mktemp("orthanc-query-audit")
    server = start_orthanc(orthanc_factory, folder, "SGM", free_port())
    for n, patient in enumerate(("QA1", "QA1", "QA2")):
        server.upload(write_mg(folder / f"{n}.dcm", PatientID=patient))
    return server


def test_queries_we_send_are_audited(settings: Settings, session_factory: sessionmaker[Session], pacs: Orthanc) -> None:
    configured = settings.model_copy(update={"pacs_port": pacs.dicom_port, "pacs_ae_title": pacs.ae_title})
    client = PacsClient(configured, session_factory)
    assert len(client.find_studies(StudyQuery(patient_id="QA1"))) == 2
    assert len(client.find_patients(name="*")) == 2
    study_query, patient_query = _queries(session_factory)
    assert (study_query.event_type, study_query.action, study_query.outcome) == ("dicom_cfind_sent", "E", 0)
    assert study_query.patient_ref == "QA1" and study_query.user_id == "SGM" and study_query.ae_title == "ORTHANC"
    assert study_query.detail["keys"] == {"QueryRetrieveLevel": "STUDY", "PatientID": "QA1", "ModalitiesInStudy": "MG"}
    assert study_query.detail["matches"] == 2
    assert patient_query.detail["keys"]["QueryRetrieveLevel"] == "PATIENT" and patient_query.detail["matches"] == 2


def test_a_refused_query_is_audited_as_a_failure(
    settings: Settings, session_factory: sessionmaker[Session], pacs: Orthanc
) -> None:
    # Orthanc refuses callers it does not know: the association fails, the attempt is still recorded.
    configured = settings.model_copy(
        update={"pacs_port": pacs.dicom_port, "pacs_ae_title": pacs.ae_title, "dicom_ae_title": "STRANGER"}
    )
    with pytest.raises(scu.DimseError):
        PacsClient(configured, session_factory).find_studies(StudyQuery(patient_id="QA2"))
    (query,) = _queries(session_factory)
    assert query.outcome == 4 and query.user_id == "STRANGER" and query.detail["matches"] is None
    assert f"ORTHANC@127.0.0.1:{pacs.dicom_port}" in query.detail["problem"]
