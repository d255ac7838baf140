"""Radiologist accounts: signup through an invite link (signup is closed), each with its own token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.client import LabelStudioClient
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


def _signup(url: str, invite_token: str, email: str, password: str) -> requests.Session:
    """Fill in Label Studio's signup form (with CSRF) as the new user would."""
    http = requests.Session()
    form_url = f"{url}/user/signup/?token={invite_token}"
    http.get(form_url, timeout=30).raise_for_status()
    response = http.post(
        form_url,
        timeout=30,
        allow_redirects=False,
        headers={"Referer": form_url},
        data={
            "csrfmiddlewaretoken": http.cookies.get("csrftoken", ""),
            "email": email,
            "password": password,
            "allow_newsletters": "false",
        },
    )
    if response.status_code != 302:
        raise ReaderError(
            f"Label Studio refused the signup of {email} (HTTP {response.status_code}); "
            "is the address valid and not yet registered?"
        )
    return http


def create_reader(admin: LabelStudioClient, email: str) -> ReaderAccount:
    """Create the Label Studio account of a reader and fetch their personal API token."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ReaderError(f"not an email address: {email!r}")
    if any(u.get("email", "").lower() == email for u in admin.get("/api/users/")):
        raise ReaderError(f"{email} already has a Label Studio account")
    password = secrets.token_urlsafe(16)
    http = _signup(admin.url, admin.get("/api/invite")["token"], email, password)
    token = http.get(f"{admin.url}/api/current-user/token", timeout=30).json()["token"]
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
