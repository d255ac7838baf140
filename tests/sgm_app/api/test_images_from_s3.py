"""Folder ingest into S3 (moto's server on loopback), then every reader of stored images reads from there:
the API's render, the viewer's hanging, the quality header checks and the research dataset export."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.deid import Deidentifier
from emr_core.dicom.ingest import ingest_paths
from emr_core.dicom.render import render_png
from emr_core.models import Instance, Series
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from quality.frames import images_frame
from sgm_app.web.hanging import study_views
from sgm_datasets.images import export_image
from sgm_datasets.selection import SourceImage
from tests.conftest import SgmCli
from tests.sgm_app.api.conftest import Api
from tests.support.servers import free_port, fresh_bucket, s3_endpoint

__all__ = ["s3_endpoint"]  # the module's moto server (a fixture)


@pytest.fixture
def settings(settings: Settings, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's data folder and database, with DICOM objects in a fresh bucket."""
    bucket = fresh_bucket(s3_endpoint, "images", tmp_path)
    s3 = {"storage_url": f"s3://{bucket}/dicom", "s3_endpoint_url": s3_endpoint, "s3_access_key_id": "k"}
    for name, value in {**s3, "s3_secret_access_key": "s"}.items():
        monkeypatch.setenv(f"SGM_{name.upper()}", value)  # for readers that hold only the data folder
    return settings.model_copy(update={**s3, "s3_secret_access_key": SecretStr("s")})


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    generate_corpus(tmp_path / "corpus", CorpusOptions(patients=2, seed=5, columns=104, rows=128, prior_fraction=0))
    return tmp_path / "corpus" / "dicom"


def test_ingested_into_s3_and_read_back_by_every_reader(
    api: Api, settings: Settings, session_factory: sessionmaker[Session], corpus: Path, tmp_path: Path
) -> None:
    report = ingest_paths(session_factory, settings, [corpus])
    assert report.stored > 0 and report.failed == 0, report.summary()
    assert not settings.storage_dir.exists()  # nothing went to the local folder
    with session_scope(session_factory) as session:
        instances = list(session.scalars(select(Instance)))
        assert all(i.stored_path.startswith(f"{settings.storage_url}/") for i in instances)
        study_id = session.scalars(select(Series.study_id).where(Series.id == instances[0].series_id)).one()
        views = study_views(session, settings, study_id)  # reads Patient Orientation through the store
        frame = images_frame(session, settings.root)
        assert len(views) == 4 and frame["header_readable"].all()
    # Again: every object is already stored, nothing is rewritten, nothing is new.
    assert ingest_paths(session_factory, settings, [corpus]).unchanged == report.stored
    one = instances[0]
    local = next(p for p in corpus.rglob("*.dcm") if _sop(p) == one.sop_instance_uid)
    answer = api.get("clinician", f"/images/{one.sop_instance_uid}.png")
    assert answer.status_code == 200 and answer.content == render_png(local).png
    image = SourceImage(one.stored_path, "L", "CC", one.rows or 0, one.columns or 0, 50, "", "", "", (), (), "H", "P")
    exported = export_image(Deidentifier(b"k" * 32), settings.root, tmp_path / "out", image, 64)
    assert exported.reason == "" and (tmp_path / "out" / exported.dicom_path).is_file()


def _sop(path: Path) -> str:
    from pydicom import dcmread

    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_ingest_into_an_unreachable_store_fails_in_one_line(
    sgm: SgmCli, corpus: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGM_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    result = sgm("ingest", str(corpus))
    assert result.exit_code == 1
    bucket = str(settings.storage_url).removeprefix("s3://").split("/")[0]
    assert result.output.strip().splitlines()[-1].startswith(f"Error: object store s3://{bucket} cannot be reached")
    assert "Traceback" not in result.output and not settings.storage_dir.exists()
