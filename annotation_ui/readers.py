"""Radiologist accounts: signup through an invite link (signup is closed), each with its own token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.client import LabelStudioClient, SignupRefusedError, signup
from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_annotation import AnnotationReader


class ReaderError(ValueError):
    """The reader cannot be created (bad email, already exists, signup refused)."""


@dataclass(frozen=True)
class ReaderAccount:
    """A new reader's login; the password is shown once and never stored by us."""

    email: str
    password: str
    token: str
    ls_user_id: int


def create_reader(admin: LabelStudioClient, email: str) -> ReaderAccount:
    """Create the Label Studio account of a reader and fetch their personal API token."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ReaderError(f"not an email address: {email!r}")
    if email in admin.user_emails():
        raise ReaderError(f"{email} already has a Label Studio account")
    password = secrets.token_urlsafe(16)
    try:
        token = signup(admin.url, admin.invite_token(), email, password)
    except SignupRefusedError as exc:
        raise ReaderError(f"{exc}; is the address valid and not yet registered?") from None
    user_id = int(admin.as_user(token).whoami()["id"])
    return ReaderAccount(email, password, token, user_id)


def register_reader(session: Session, account: ReaderAccount, by: str = "") -> AnnotationReader:
    """Record the reader in the EMR (and the audit log) inside the caller's transaction."""
    reader = AnnotationReader(email=account.email, ls_user_id=account.ls_user_id)
    session.add(reader)
    session.flush()
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.USER_AUTHENTICATION,
            action=AuditAction.CREATE,
            event_type="annotation.reader_created",
            user_id=by,
            detail={"reader": account.email, "ls_user_id": account.ls_user_id},
        ),
    )
    return reader


def reader_by_email(session: Session, email: str) -> AnnotationReader:
    """A registered reader; raises ReaderError naming the command that registers one."""
    reader = session.scalars(select(AnnotationReader).where(AnnotationReader.email == email.strip().lower())).first()
    if reader is None:
        raise ReaderError(f"{email} is not a registered reader: run `sgm readers add {email}` first")
    return reader
