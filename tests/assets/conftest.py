"""Fixtures shared with tests/quality: a synthetic corpus and a migrated SQLite data folder per test."""

from tests.quality.conftest import emr, migrated_sqlite, quality_corpus  # noqa: F401 (fixtures)
from tests.support.model_fixtures import planted_files, registry, studies  # noqa: F401 (fixtures)
