"""Settings come from SGM_* variables; a bad value names the variable and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from emr_core.settings import ConfigError, load_settings


def test_defaults_put_everything_under_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SGM_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SGM_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.root == (tmp_path / "data").resolve()
    assert settings.url == f"sqlite:///{settings.root / 'emr.db'}"
    for folder in (settings.storage_dir, settings.quarantine_dir, settings.conflicts_dir, settings.incoming_dir):
        assert folder.parent == settings.root


def test_bad_database_url_names_the_key_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGM_DATABASE_URL", "postgres://somewhere/emr")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert "SGM_DATABASE_URL" in str(excinfo.value)
    assert "mysql+pymysql://" in str(excinfo.value)


def test_bad_number_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGM_INGEST_WORKERS", "many")
    with pytest.raises(ConfigError, match="SGM_INGEST_WORKERS"):
        load_settings()


@pytest.mark.parametrize("variable", ["SGM_API_PORT", "SGM_LABEL_STUDIO_PORT", "SGM_DICOM_PORT"])
def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "99999")
    with pytest.raises(ConfigError, match=variable):
        load_settings()
