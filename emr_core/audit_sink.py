"""Where chained events go beyond the database: the key that seals them, checkpoints, the syslog copy.

Checkpoints and syslog messages are written only after the transaction that chained the events commits,
so that neither the checkpoint file nor the repository ever holds an event the database rolled back.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field, replace

from sqlalchemy import event
from sqlalchemy.orm import Session

from emr_core.audit_seal import CheckpointFile, fingerprint, load_key
from emr_core.audit_syslog import Repository, SyslogSender, tls_context
from emr_core.db import SETTINGS_KEY
from emr_core.settings import Settings, load_settings

log = logging.getLogger(__name__)
PENDING_KEY = "sgm_audit_pending"


@dataclass
class AuditSink:
    """The key, the checkpoint file and the (optional) repository of one data folder."""

    key: bytes
    checkpoints: CheckpointFile
    sender: SyslogSender | None = None

    @property
    def site(self) -> str:
        return fingerprint(self.key)


@dataclass
class Pending:
    """What a transaction chained, kept until it commits."""

    sink: AuditSink
    last_id: int = 0
    last_hash: str = ""
    messages: list[str] = field(default_factory=list)


_sinks: dict[tuple[object, ...], AuditSink] = {}
_sinks_lock = threading.Lock()


def sink_for(settings: Settings) -> AuditSink:
    """The sink of these settings, one per process (the key is created on first use)."""
    ident = (
        settings.audit_key_path,
        settings.audit_checkpoint_path,
        settings.audit_syslog_host,
        settings.audit_syslog_port,
        settings.audit_syslog_tls,
    )
    with _sinks_lock:
        sink = _sinks.get(ident)
        if sink is None:
            key = load_key(settings.audit_key_path, create=True)
            sink = AuditSink(key, CheckpointFile(settings.audit_checkpoint_path, key), _sender(settings))
            _sinks[ident] = sink
        return sink


def _sender(settings: Settings) -> SyslogSender | None:
    if not settings.audit_syslog_host:
        return None
    context = (
        tls_context(settings.audit_syslog_ca_file, settings.audit_syslog_cert_file)
        if settings.audit_syslog_tls
        else None
    )
    repository = Repository(settings.audit_syslog_host, settings.audit_syslog_port, context)
    return SyslogSender(repository, settings.audit_spool_dir)


def session_sink(session: Session) -> AuditSink:
    """The sink for this session's data folder: its factory's settings, else the environment's."""
    settings = session.info.get(SETTINGS_KEY)
    return sink_for(settings if isinstance(settings, Settings) else _environment_settings())


_env_settings: dict[frozenset[tuple[str, str]], Settings] = {}


def _environment_settings() -> Settings:
    # Parsing settings costs milliseconds; the SGM_* variables rarely change within a process.
    env = frozenset((k, v) for k, v in os.environ.items() if k.startswith("SGM_"))
    settings = _env_settings.get(env)
    if settings is None:
        if len(_env_settings) > 64:
            _env_settings.clear()
        settings = _env_settings[env] = load_settings()
    return settings


def defer(session: Session, sink: AuditSink, last_id: int, last_hash: str, messages: list[str]) -> None:
    """Remember chained events until the session commits."""
    pending = session.info.get(PENDING_KEY)
    if pending is None:
        pending = session.info[PENDING_KEY] = Pending(sink)
    pending.last_id, pending.last_hash = last_id, last_hash
    pending.messages.extend(messages)


def pending_snapshot(session: Session) -> Pending | None:
    """A copy of what this session chained so far, taken before a savepoint."""
    pending: Pending | None = session.info.get(PENDING_KEY)
    return None if pending is None else replace(pending, messages=list(pending.messages))


def restore_pending(session: Session, snapshot: Pending | None) -> None:
    """The savepoint rolled back: forget what it chained, so no checkpoint or copy names those events."""
    if snapshot is None:
        session.info.pop(PENDING_KEY, None)
    else:
        session.info[PENDING_KEY] = snapshot


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint was released (SQLAlchemy reports that as a commit too): its events are still
        # uncommitted and reach the checkpoint and the repository only if the outer transaction commits.
        return
    pending: Pending | None = session.info.pop(PENDING_KEY, None)
    if pending is None:
        return
    try:
        pending.sink.checkpoints.append(pending.last_id, pending.last_hash)
    except OSError as exc:  # the commit stands; verify will notice the missing checkpoint is only a gap
        log.error("audit checkpoint not written (%s): %s", pending.sink.checkpoints.path, exc)
    if pending.sink.sender is not None:
        for message in pending.messages:
            pending.sink.sender.submit(message)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: object) -> None:
    # Only the outermost transaction's end matters: its events never reached the database.
    if getattr(previous_transaction, "parent", None) is None:
        session.info.pop(PENDING_KEY, None)


def flush_senders(timeout: float = 10.0) -> bool:
    """Wait until every repository took what was queued (tests, and before exit)."""
    with _sinks_lock:
        senders = [s.sender for s in _sinks.values() if s.sender is not None]
    return all(sender.flush(timeout) for sender in senders)


@atexit.register
def close_senders() -> None:
    """Stop every sender, spooling what it could not send (at exit, and between tests)."""
    with _sinks_lock:
        sinks = list(_sinks.values())
        _sinks.clear()
    for sink in sinks:
        if sink.sender is not None:
            sink.sender.close()
