"""Users, password hashes and bearer tokens (only hashes are stored; tokens come from `secrets`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.clinical.roles import Role
from emr_core.models import utcnow
from emr_core.models_clinical import ApiToken, User

# scrypt at n=2**14, r=8 costs ~16 MB and ~50 ms: slow enough for guessing, fine for a login.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
TOKEN_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user's id, name and role."""

    user_id: int
    username: str
    role: str


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form scrypt$salt$digest."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Compare in constant time; an empty stored hash never matches."""
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to guess.
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_user(session: Session, username: str, role: str, password: str | None = None) -> User:
    """Add a user; ValueError naming the problem for a taken name or unknown role."""
    if role not in {r.value for r in Role}:
        raise ValueError(f"role: unknown role {role!r}; use one of {', '.join(r.value for r in Role)}")
    if not username or len(username) > 64:
        raise ValueError("username: must be 1 to 64 characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"username: {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password) if password else "")
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, user: User, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    """A new random bearer token for the user; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), expires_at=utcnow() + lifetime))
    session.flush()
    return token


def authenticate_token(session: Session, token: str) -> Principal | None:
    """The active user holding this unexpired, unrevoked token, or None."""
    row = session.execute(
        select(User.id, User.username, User.role, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False), User.active.is_(True))
    ).first()
    if row is None or (row.expires_at is not None and row.expires_at < utcnow()):
        return None
    return Principal(row.id, row.username, row.role)


@lru_cache(maxsize=1)
def dummy_password_hash() -> str:
    """A hash of a random password: unknown users are checked against it, so they cost as much as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def verify_login(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None; the same scrypt work whether or not the user exists."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    stored = user.password_hash if user is not None and user.password_hash else dummy_password_hash()
    matches = check_password(password, stored)  # always run: skipping it would tell who exists
    return user if user is not None and user.password_hash and matches else None


def login(
    session: Session, username: str, password: str, lifetime: timedelta = TOKEN_LIFETIME
) -> tuple[User, str] | None:
    """Check a password and issue a token; None when the name or password is wrong."""
    user = verify_login(session, username, password)
    if user is None:
        return None
    return user, issue_token(session, user, lifetime)
