"""Renders made by `sgm campaign create` show up in Dagster as materializations of annotation_images."""

from __future__ import annotations

import dagster as dg
import pytest

from sgm_app.cli.dagster_events import record_renders


def test_renders_are_recorded_as_materializations_of_annotation_images() -> None:
    with dg.instance_for_test() as instance:
        assert record_renders({"rendered": 12, "cached": 4, "campaign": "demo", "long_side": 1024}, instance)
        event = instance.get_latest_materialization_event(dg.AssetKey("annotation_images"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        assert metadata["rendered"].value == 12 and metadata["campaign"].value == "demo"


def test_without_a_dagster_home_nothing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert record_renders({"rendered": 1}) is False
