"""A real S3 API (moto's server on loopback) and a fresh bucket per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.servers import fresh_bucket, s3_endpoint

__all__ = ["s3_endpoint"]


@pytest.fixture
def bucket(s3_endpoint: str, tmp_path: Path) -> str:
    return fresh_bucket(s3_endpoint, "archive", tmp_path)
