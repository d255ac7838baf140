"""Typed platform settings, read from SGM_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
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
    # Clinical web application (sgm_app/web): browser sessions.
    web_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="sign out after this idle time")
    web_session_max_hours: int = Field(default=12, ge=1, le=24 * 30, description="sign out this long after login")
    web_secure_cookies: bool = Field(default=False, description="Secure cookie flag; on by itself over https")
    label_studio_port: int = Field(default=8080, ge=1, le=65535)
    label_studio_bin: Path | None = Field(
        default=None, description="label-studio executable; default .venv-labelstudio/bin/label-studio"
    )
    deid_key_file: Path | None = Field(
        default=None, description="secret behind pseudonyms and date shifts; default secrets/deid.key in SGM_HOME"
    )
    # An external Label Studio: both set, else the one `sgm labelstudio start` runs in the data folder.
    label_studio_url: str | None = Field(default=None, description="URL of an external Label Studio")
    label_studio_token: str | None = Field(default=None, description="admin API token of that Label Studio")
    followup_rules: Path | None = Field(default=None, description="YAML follow-up rules; shipped BI-RADS defaults")
    gateway_port: int = Field(
        default=8081, ge=1, le=65535, description="the reading gateway (nginx): the radiologists' entry point"
    )
    gateway_auth_port: int = Field(default=8082, ge=1, le=65535, description="the gateway's access endpoint")
    # DICOM interface (emr_core/dimse): our receiver, and the PACS we query and retrieve from.
    dicom_ae_title: str = Field(default="SGM", min_length=1, max_length=16)
    dicom_host: str = Field(default="127.0.0.1", description="bind address of the receiver")
    dicom_port: int = Field(default=11112, ge=1, le=65535)
    dicom_allowed_callers: str = Field(default="", description="comma-separated AE titles; empty allows any")
    # Receiver limits: what one peer may hold or make us allocate (emr_core/dimse/transport.py).
    dicom_artim_timeout: float = Field(default=30.0, gt=0, le=3600, description="seconds for association set-up")
    dicom_network_timeout: float = Field(default=60.0, gt=0, le=3600, description="seconds a read may wait for data")
    dicom_max_pdu_cap: int = Field(default=16 * 1024 * 1024, ge=4096, description="largest PDU accepted, bytes")
    dicom_listen_backlog: int = Field(default=128, ge=1, le=65535)
    dicom_max_associations: int = Field(default=16, ge=1, le=1000, description="established at once; more: rejected")
    dicom_max_connections: int = Field(default=64, ge=1, le=10000, description="open sockets at once, set-up included")
    dicom_spool_retry_seconds: float = Field(default=30.0, gt=0, description="retry failed ingests this often")
    pacs_ae_title: str = Field(default="ORTHANC", min_length=1, max_length=16)
    pacs_host: str = Field(default="127.0.0.1")
    pacs_port: int = Field(default=4242, ge=1, le=65535)
    # Quality gates (quality/): how long a study may stay unlinked or in the review queue.
    link_review_max_days: int = Field(
        default=7, ge=0, le=3650, description="days a study may wait unlinked or for link review"
    )

    @field_validator("label_studio_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("use http://HOST:PORT")
        return value.rstrip("/") if value else value

    # Audit trail: the chain's HMAC key and signed checkpoints live outside the database; events
    # are copied to an audit record repository (IHE ATNA, syslog) when one is configured.
    audit_key_file: Path | None = Field(default=None, description="HMAC key; default <home>/secrets/audit.key")
    audit_checkpoint_file: Path | None = Field(
        default=None, description="signed chain checkpoints; default <home>/audit/checkpoints.log"
    )
    audit_syslog_host: str = Field(default="", description="audit record repository host; empty disables")
    audit_syslog_port: int = Field(default=6514, ge=1, le=65535)
    audit_syslog_tls: bool = Field(default=False, description="RFC 5425 TLS to the repository")
    audit_syslog_ca_file: Path | None = Field(default=None, description="CA bundle to verify the repository")
    audit_syslog_cert_file: Path | None = Field(default=None, description="client certificate (PEM, with key)")
    audit_401_window_seconds: int = Field(
        default=60, ge=1, le=3600, description="anonymous 401s are counted, one audit row per address per window"
    )
    # Training dataset versions (datasets/): a folder, or s3://bucket/prefix on S3-compatible storage.
    dataset_store: str | None = Field(default=None, description="local folder or s3://bucket/prefix; default datasets/")
    # DICOM objects (emr_core/objectstore): a folder, or s3://bucket/prefix for the many-terabyte case.
    storage_url: str | None = Field(
        default=None, description="file:///FOLDER or s3://bucket/prefix for DICOM objects; default storage/ in home"
    )
    storage_multipart_bytes: int = Field(
        default=64 * 1024 * 1024, ge=5 * 1024 * 1024, description="S3 objects at least this large go up in parts"
    )
    storage_part_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3)
    # S3 endpoint and credentials, shared by the dataset store and the DICOM object store. Unset
    # credentials fall back to boto3's own chain (AWS_* variables, AWS_SHARED_CREDENTIALS_FILE, roles).
    s3_endpoint_url: str | None = Field(default=None, description="S3 API endpoint; AWS when unset")
    s3_access_key_id: str | None = Field(default=None)
    s3_secret_access_key: SecretStr | None = Field(default=None)
    s3_secret_access_key_file: Path | None = Field(default=None, description="file holding the secret key")
    s3_region: str = Field(default="us-east-1")
    mlflow_port: int = Field(default=5000, ge=1, le=65535, description="port of the MLflow tracking server")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="default: the server on SGM_MLFLOW_PORT if it answers, else SQLite in the data folder"
    )
    # Detectors (sgm_models): the registered model the pipeline trains, and when new final reads ask for retraining.
    detector_model_name: str = Field(
        default="sgm-baseline-detector", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="MLflow registered model the baseline detector is trained into",
    )  # fmt: skip
    retrain_after_exams: int = Field(
        default=50, ge=1, le=1_000_000, description="newly agreed or adjudicated exams that request a retraining"
    )

    # Inference (sgm_models/inference): which registered model runs, where, and how patiently.
    inference_model_alias: str = Field(
        default="champion", min_length=1, max_length=100, description="registry alias, or a version number"
    )
    inference_remote_url: str | None = Field(
        default=None, description="a server speaking MLflow's /invocations; in-process when unset"
    )
    inference_connect_timeout: float = Field(default=5.0, gt=0, le=600, description="seconds to reach the server")
    inference_read_timeout: float = Field(default=120.0, gt=0, le=3600, description="seconds to wait for an answer")
    inference_retries: int = Field(default=2, ge=0, le=10, description="retries after a timeout or a dropped answer")
    inference_backoff_seconds: float = Field(default=1.0, ge=0, le=60, description="first retry delay, then doubled")
    inference_workers: int = Field(default=2, ge=1, le=64, description="studies predicted at once")

    @field_validator("inference_remote_url")
    @classmethod
    def _model_server_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("use http://HOST:PORT")
        return value.rstrip("/") if value else value

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("file:///", "s3://")):
            raise ValueError("use file:///ABSOLUTE/FOLDER or s3://bucket/prefix")
        if value and value.startswith("s3://") and not value[len("s3://") :].split("/")[0]:
            raise ValueError("s3:// needs a bucket: s3://bucket/prefix")
        return value

    @property
    def s3_secret(self) -> str | None:
        """The S3 secret key, from the setting or from its file (compose and Kubernetes secrets)."""
        if self.s3_secret_access_key is not None:
            return self.s3_secret_access_key.get_secret_value()
        if self.s3_secret_access_key_file is not None:
            return self.s3_secret_access_key_file.expanduser().read_text().strip()
        return None

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
    def rendered_dir(self) -> Path:
        """PNG renderings for Label Studio, one folder per long side (also its local-files document root)."""
        return self.root / "rendered"

    # Cached: every audited commit looks its sink up by these, and resolve() walks the disk.
    @cached_property
    def audit_key_path(self) -> Path:
        return (self.audit_key_file or self.root / "secrets" / "audit.key").expanduser().resolve()

    @cached_property
    def audit_checkpoint_path(self) -> Path:
        return (self.audit_checkpoint_file or self.root / "audit" / "checkpoints.log").expanduser().resolve()

    @property
    def audit_spool_dir(self) -> Path:
        """Audit messages the repository did not take yet, resent on the next start."""
        return self.root / "audit" / "syslog-spool"

    @property
    def dataset_store_location(self) -> str:
        return self.dataset_store or str(self.root / "datasets")

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.root / 'emr.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, turning validation errors into ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [f"SGM_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("invalid setting(s): " + "; ".join(problems)) from None
