"""Query/retrieve against a real Orthanc: C-ECHO, C-FIND, C-MOVE to our receiver, C-GET."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from sqlalchemy.orm import Session, sessionmaker

from emr_core.dimse.pacs import PacsClient, StudyQuery
from emr_core.settings import Settings
from sgm_app.cli import _register, cli
from tests.emr_core.dimse.dimse_checks import audit_events, indexed, leftovers
from tests.emr_core.dimse.peers import (
    Orthanc,
    ReceiverProcess,
    free_port,
    start_orthanc,
)


@pytest.fixture(scope="module")
def our_port() -> int:
    """The receiver port this module's Orthanc sends C-MOVEs to."""
    return free_port()


@pytest.fixture(scope="module")
def pacs(
    orthanc_factory: list[Orthanc], tmp_path_factory: pytest.TempPathFactory, corpus: Path, our_port: int
) -> Orthanc:
    """An Orthanc holding the small corpus, knowing us as SGM at our_port."""
    server = start_orthanc(orthanc_factory, tmp_path_factory.mktemp("orthanc"), "SGM", our_port)
    for path in sorted(corpus.rglob("*.dcm")):
        server.upload(path)
    return server


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session], pacs: Orthanc) -> PacsClient:
    configured = settings.model_copy(update={"pacs_port": pacs.dicom_port, "pacs_ae_title": pacs.ae_title})
    configured.root.mkdir(parents=True, exist_ok=True)
    return PacsClient(configured, session_factory)


def _studies_by_patient(corpus: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in corpus.rglob("*.dcm"):
        ds = dcmread(path, stop_before_pixels=True)
        found.setdefault(str(ds.PatientID), set()).add(str(ds.StudyInstanceUID))
    return found


def _instances_per_study(corpus: Path, study_uids: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in corpus.rglob("*.dcm"):
        uid = str(dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        if uid in study_uids:
            counts[uid] += 1
    return counts


def test_echo_and_find_at_patient_and_study_level(client: PacsClient, pacs: Orthanc, corpus: Path) -> None:
    assert client.echo() == 0x0000
    by_patient = _studies_by_patient(corpus)
    every = client.find_studies(StudyQuery(modality="MG"))
    studies: list[dict[str, dict[str, str]]] = pacs.get("/studies?expand")  # type: ignore[assignment]
    truth = {study["MainDicomTags"]["StudyInstanceUID"] for study in studies}
    assert {s.study_uid for s in every} == truth
    patient_id, uids = min(by_patient.items())
    mine = client.find_studies(StudyQuery(patient_id=patient_id))
    assert {s.study_uid for s in mine} == uids and all(s.instances for s in mine)
    dates = sorted(s.study_date for s in every)
    first_day = StudyQuery(date_from=_day(dates[0]), date_to=_day(dates[0]))
    assert {s.study_date for s in client.find_studies(first_day)} == {dates[0]}
    assert client.find_studies(StudyQuery(modality="CT")) == []
    (patient,) = client.find_patients(patient_id=patient_id)
    assert patient.studies == len(uids)


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def test_pull_by_move_then_held_studies_are_skipped(
    client: PacsClient,
    receiver: ReceiverProcess,
    our_port: int,
    corpus: Path,
    session_factory: sessionmaker[Session],
) -> None:
    receiver.port = our_port
    receiver.start()
    patient_id, uids = sorted(_studies_by_patient(corpus).items())[1]
    studies = client.find_studies(StudyQuery(patient_id=patient_id))
    first = client.pull(studies, "move")
    again = client.pull(client.find_studies(StudyQuery(patient_id=patient_id)), "move")
    assert receiver.stop() == 0, receiver.logs()

    assert set(first.pulled) == uids and not first.failed
    assert set(again.skipped) == uids and again.pulled == [] and again.instances == 0
    expected = _instances_per_study(corpus, uids)
    assert first.instances == sum(expected.values()) == len(indexed(session_factory))
    (association,) = audit_events(session_factory, "dicom_association")  # the second pull moved nothing
    assert association.ae_title == "ORTHANC" and association.instance_count == first.instances


def test_pull_by_get_stores_indexes_and_audits_in_process(
    client: PacsClient, corpus: Path, session_factory: sessionmaker[Session]
) -> None:
    patient_id, uids = sorted(_studies_by_patient(corpus).items())[2]
    report = client.pull(client.find_studies(StudyQuery(patient_id=patient_id)), "get")
    assert set(report.pulled) == uids and not report.failed
    assert len(indexed(session_factory)) == report.instances == sum(_instances_per_study(corpus, uids).values())
    received = audit_events(session_factory, "dicom_instance_received")
    assert len(received) == report.instances and {e.ae_title for e in received} == {"ORTHANC"}
    assert leftovers(client.settings) == []
    again = client.pull(client.find_studies(StudyQuery(patient_id=patient_id)), "get")
    assert set(again.skipped) == uids and again.instances == 0


def test_pacs_commands(client: PacsClient, corpus: Path, pacs: Orthanc) -> None:
    _register()
    settings = client.settings
    env = {
        "SGM_HOME": str(settings.home),
        "SGM_DATABASE_URL": settings.url,
        "SGM_PACS_PORT": str(pacs.dicom_port),
        "SGM_PACS_AE_TITLE": pacs.ae_title,
    }
    runner = CliRunner()
    echo = runner.invoke(cli, ["pacs", "echo"], env=env)
    assert echo.exit_code == 0 and "0x0000" in echo.output, echo.output
    patient_id, uids = min(_studies_by_patient(corpus).items())
    found = runner.invoke(cli, ["pacs", "find", "--patient-id", patient_id], env=env)
    assert {line.split("\t")[0] for line in found.output.splitlines()} == uids, found.output
    pulled = runner.invoke(cli, ["pacs", "pull", "--patient-id", patient_id, "--method", "get"], env=env)
    assert pulled.exit_code == 0 and f"{len(uids)} studies pulled" in pulled.output, pulled.output
