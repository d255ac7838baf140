"""Application tests: the model registry and planted studies for the prediction endpoints and command."""

from tests.support.model_fixtures import planted_files, registry, studies  # noqa: F401 (fixtures)
