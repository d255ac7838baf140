"""Typed platform settings, read from SGM_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A setting is invalid; the message names the key and the fix."""


class Settings(BaseSettings):
    """Where the platform keeps its state and how it reaches its database."""

    model_config = SettingsConfigDict(env_prefix="SGM_", extra="ignore")

    home: Path = Field(default=Path(".sgm"), description="data folder holding all state")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in the data folder when unset")
    ingest_batch_size: int = Field(default=200, ge=1, le=10_000)
    ingest_workers: int = Field(default=2, ge=1, le=64)
    api_port: int = Field(default=8000, ge=1, le=65535, description="port of `sgm api serve`")
    label_studio_port: int = Field(default=8080, ge=1, le=65535)
    label_studio_bin: Path | None = Field(
        default=None, description="label-studio executable; default .venv-labelstudio/bin/label-studio"
    )
    gateway_port: int = Field(
        default=8081, ge=1, le=65535, description="the reading gateway (nginx): the radiologists' entry point"
    )
    gateway_auth_port: int = Field(default=8082, ge=1, le=65535, description="the gateway's access endpoint")
    # DICOM interface (emr_core/dimse): our receiver, and the PACS we query and retrieve from.
    dicom_ae_title: str = Field(default="SGM", min_length=1, max_length=16)
    dicom_host: str = Field(default="127.0.0.1", description="bind address of the receiver")
    dicom_port: int = Field(default=11112, ge=1, le=65535)
    dicom_allowed_callers: str = Field(default="", description="comma-separated AE titles; empty allows any")
    pacs_ae_title: str = Field(default="ORTHANC", min_length=1, max_length=16)
    pacs_host: str = Field(default="127.0.0.1")
    pacs_port: int = Field(default=4242, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "mysql+pymysql", "mariadb+pymysql")):
            raise ValueError("use sqlite:///PATH or mysql+pymysql://USER:PASSWORD@HOST:PORT/DB")
        return value

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def storage_dir(self) -> Path:
        return self.root / "storage"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def conflicts_dir(self) -> Path:
        return self.root / "conflicts"

    @property
    def incoming_dir(self) -> Path:
        return self.root / "incoming"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.root / 'emr.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning validation errors into ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [f"SGM_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("invalid setting(s): " + "; ".join(problems)) from None
