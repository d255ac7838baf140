"""`sgm predict`: one study or every pending one, with a one-line error for an unknown alias."""

from __future__ import annotations

import pytest

from emr_core.settings import Settings
from tests.support.models import PlantedStudy, Registry


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Registry:
    monkeypatch.setenv("SGM_MLFLOW_TRACKING_URI", registry.uri)
    monkeypatch.setenv("SGM_DETECTOR_MODEL_NAME", registry.detector)
    return registry


def test_predict_one_study_then_all(
    sgm, settings: Settings, model_env: Registry, studies: dict[int, PlantedStudy]
) -> None:
    first_uid = next(iter(studies.values())).study_uid
    one = sgm("predict", first_uid)
    assert one.exit_code == 0, one.output
    assert "1 done, 0 failed, 0 unchanged" in one.output
    rest = sgm("predict", "--all")
    assert rest.exit_code == 0 and "1 done, 0 failed, 0 unchanged" in rest.output
    assert "0 done, 0 failed, 0 unchanged" in sgm("predict", "--all").output


def test_failures_exit_non_zero_with_reasons(
    sgm, monkeypatch: pytest.MonkeyPatch, model_env: Registry, studies: dict[int, PlantedStudy]
) -> None:
    monkeypatch.setenv("SGM_DETECTOR_MODEL_NAME", model_env.hostile)
    result = sgm("predict", "--all", "--alias", "raise")
    assert result.exit_code == 1
    assert "2 failed: the model raised RuntimeError: weights are corrupt" in result.output


@pytest.mark.parametrize("args", [("predict", "--all", "--alias", "gone"), ("predict", "1.2.3")])
def test_unknown_alias_or_study_is_one_line(sgm, model_env: Registry, args: tuple[str, ...]) -> None:
    result = sgm(*args)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: ") and ("'gone'" in line or "1.2.3" in line)


def test_predict_needs_a_study_or_all(sgm) -> None:
    assert sgm("predict").exit_code == 2
    assert "--all" in sgm("predict", "--help").output
