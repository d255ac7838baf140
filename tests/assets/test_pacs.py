"""The nightly PACS pull asset against a real Orthanc: a day's MG studies, held ones skipped."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC

import dagster as dg
import pytest
from pydicom import dcmread
from sqlalchemy import Engine

from assets import pacs
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from tests.conftest import require_peer
from tests.emr_core.dimse.peers import Orthanc, free_port
from tests.support.resources import dagster_resources, run_sensor


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Orthanc, dict[str, set[str]]]]:
    """An Orthanc holding a small corpus; yields it with the study UIDs of each study date."""
    require_peer(shutil.which("Orthanc") is not None, "Orthanc is not installed")
    corpus = tmp_path_factory.mktemp("pacs_corpus")
    generate_corpus(corpus, CorpusOptions(patients=4, seed=21, columns=96, rows=128))
    server = Orthanc(tmp_path_factory.mktemp("orthanc"), free_port(), free_port()).start("SGM", free_port())
    by_day: dict[str, set[str]] = {}
    for path in sorted((corpus / "dicom").rglob("*.dcm")):
        server.upload(path)
        ds = dcmread(path, stop_before_pixels=True)
        by_day.setdefault(str(ds.StudyDate), set()).add(str(ds.StudyInstanceUID))
    yield server, by_day
    server.stop()


def _pull(settings: Settings, server: Orthanc, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [pacs.pacs_mammography_studies],
        resources=dagster_resources(
            settings, pacs_method="get", pacs_port=server.dicom_port, pacs_ae_title=server.ae_title
        ),
        run_config={"ops": {"pacs_mammography_studies": {"config": {"day": day}}}},
    )


def test_a_day_is_pulled_once(settings: Settings, engine: Engine, orthanc: tuple[Orthanc, dict[str, set[str]]]) -> None:
    server, by_day = orthanc
    day, uids = max(by_day.items(), key=lambda item: len(item[1]))
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    first = _pull(settings, server, iso).asset_materializations_for_node("pacs_mammography_studies")[0]
    assert first.metadata["found"].value == first.metadata["pulled"].value == len(uids)
    assert first.metadata["instances"].value > 0
    again = _pull(settings, server, iso).asset_materializations_for_node("pacs_mammography_studies")[0]
    assert again.metadata["pulled"].value == 0 and again.metadata["already_held"].value == len(uids)
    _receiver_sensor_reports(settings, instances=int(first.metadata["instances"].value), studies=len(uids))


def _receiver_sensor_reports(settings: Settings, instances: int, studies: int) -> None:
    """The sensor shows received instances as materializations of the ingest assets, once."""
    from orchestration.sensors import dicom_receiver_sensor

    emr_db = dagster_resources(settings)["emr_db"]
    result = run_sensor(dicom_receiver_sensor, {"emr_db": emr_db})
    assert isinstance(result, dg.SensorResult)
    keys = {event.asset_key.to_user_string() for event in result.asset_events}
    assert keys == {"dicom_instances", "linked_studies"}
    metadata = {key: value.value for key, value in result.asset_events[0].metadata.items()}
    assert metadata["instances"] == instances and metadata["studies"] == studies
    assert metadata["callers"] == "ORTHANC"
    later = run_sensor(dicom_receiver_sensor, {"emr_db": emr_db}, cursor=result.cursor)
    assert isinstance(later, dg.SkipReason)


def test_empty_day_means_yesterday() -> None:
    from datetime import date, timedelta

    assert pacs.pull_day(pacs.PullConfig()) in {date.today() - timedelta(days=d) for d in (0, 1, 2)}
    assert pacs.pull_day(pacs.PullConfig(day="2024-03-15")) == date(2024, 3, 15)


def test_nightly_schedule_pulls_the_previous_day() -> None:
    from datetime import datetime

    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    assert repo.get_job("pull_mammography_job").graph.node_defs
    schedule = repo.get_schedule_def("nightly_pacs_pull_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 3, 16, 1, 30, tzinfo=UTC))
    (request,) = schedule.evaluate_tick(context).run_requests or []
    assert request.run_config["ops"]["pacs_mammography_studies"]["config"]["day"] == "2024-03-15"
