"""Model tests: the registry, the model server and the planted studies (tests/support/model_fixtures.py)."""

from tests.support.model_fixtures import planted_files, registry, served, studies  # noqa: F401 (fixtures)
