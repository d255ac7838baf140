"""The incoming-folder sensor starts one run per settled batch of files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

from assets.resources import DicomStorageResource, SgmSettingsResource
from orchestration.sensors import incoming_dicom_sensor
from tests.support.resources import run_sensor


def _evaluate(home: Path, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    storage = DicomStorageResource(sgm=SgmSettingsResource(home=str(home)))
    result: dg.SensorResult | dg.SkipReason = run_sensor(
        incoming_dicom_sensor, {"dicom_storage": storage}, cursor, instance
    )
    return result


def test_sensor_skips_empty_then_requests_once_files_settle(tmp_path: Path) -> None:
    home = tmp_path / "sgm"
    with dg.instance_for_test() as instance:
        assert isinstance(_evaluate(home, instance), dg.SkipReason)

        incoming = home / "incoming" / "study1"
        incoming.mkdir(parents=True)
        fresh = incoming / "a.dcm"
        fresh.write_bytes(b"x")
        assert isinstance(_evaluate(home, instance), dg.SkipReason), "a file still being written must wait"

        old = time.time() - 60
        os.utime(fresh, (old, old))
        result = _evaluate(home, instance)
        assert isinstance(result, dg.SensorResult)
        assert len(result.run_requests) == 1
        assert result.run_requests[0].tags["sgm/incoming_files"] == "1"

        again = _evaluate(home, instance, cursor=result.cursor)
        assert isinstance(again, dg.SkipReason), "the same files must not start a second run"


def test_sensor_says_when_the_run_for_these_files_failed(tmp_path: Path) -> None:
    from dagster._core.test_utils import create_run_for_test

    home = tmp_path / "sgm"
    waiting = home / "incoming" / "a.dcm"
    waiting.parent.mkdir(parents=True)
    waiting.write_bytes(b"x")
    old = time.time() - 60
    os.utime(waiting, (old, old))
    with dg.instance_for_test() as instance:
        first = _evaluate(home, instance)
        assert isinstance(first, dg.SensorResult)
        create_run_for_test(
            instance,
            job_name="ingest_dicom_job",
            status=dg.DagsterRunStatus.FAILURE,
            tags={"dagster/run_key": first.run_requests[0].run_key},
        )
        again = _evaluate(home, instance, cursor=first.cursor)
        assert isinstance(again, dg.SkipReason)
        assert "failed" in (again.skip_message or "")
