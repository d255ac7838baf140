"""Fixtures of the DIMSE tests: a receiver process per test, Orthancs per module, a small corpus."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from tests.conftest import require_peer
from tests.emr_core.dimse.peers import Orthanc, ReceiverProcess, free_port


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small synthetic mammograms: OUT/dicom/<person>/<study>/<sop>.dcm."""
    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(out, CorpusOptions(patients=3, seed=7, columns=208, rows=256, prior_fraction=0.0))
    return out / "dicom"


@pytest.fixture(scope="session")
def large_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mammograms large enough (832x1024, ~1.7 MB) for a transfer to be cut in the middle."""
    out = tmp_path_factory.mktemp("large_corpus")
    generate_corpus(out, CorpusOptions(patients=4, seed=11, prior_fraction=0.0))
    return out / "dicom"


@pytest.fixture
def receiver(settings: Settings) -> Iterator[ReceiverProcess]:
    """A running receiver on a free port, stopped (or killed) after the test."""
    settings.root.mkdir(parents=True, exist_ok=True)
    peer = ReceiverProcess(settings, free_port())
    yield peer
    if peer.proc is not None and peer.proc.poll() is None:
        peer.kill()


@pytest.fixture(scope="module")
def orthanc_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Orthanc]]:
    """Orthancs started by a test module, all stopped at its end."""
    require_peer(shutil.which("Orthanc") is not None, "Orthanc is not installed")
    started: list[Orthanc] = []
    yield started
    for server in started:
        server.stop()
