"""Passwords and tokens are stored only as hashes; revoked, expired or unknown tokens grant nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from emr_core.clinical.users import authenticate_token, check_password, create_user, hash_password, issue_token, login
from emr_core.db import session_scope
from emr_core.models_clinical import ApiToken, User


def test_password_hash_is_salted_and_checked() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first != second and first.startswith("scrypt$") and "s3cret" not in first
    assert check_password("s3cret-pass", first) and not check_password("s3cret-pasS", first)
    assert not check_password("anything", "")


def test_tokens_are_stored_hashed_and_can_expire_or_be_revoked(session_factory) -> None:
    with session_scope(session_factory) as session:
        user = create_user(session, "dr.lan", "radiologist", "long enough")
        token = issue_token(session, user)
        short = issue_token(session, user, lifetime=timedelta(seconds=-1))
    with session_scope(session_factory) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and len(stored) == 2
        assert authenticate_token(session, token).role == "radiologist"
        assert authenticate_token(session, short) is None
        assert authenticate_token(session, token + "x") is None
        session.execute(update(ApiToken).values(revoked=True))
        assert authenticate_token(session, token) is None


def test_login_and_user_validation(session_factory) -> None:
    with session_scope(session_factory) as session:
        create_user(session, "nurse.hoa", "clinician", "long enough")
        assert login(session, "nurse.hoa", "wrong") is None
        logged_in = login(session, "nurse.hoa", "long enough")
        assert logged_in is not None
        _user, token = logged_in
        assert authenticate_token(session, token).username == "nurse.hoa"
        with pytest.raises(ValueError, match=r"^role: unknown role 'janitor'"):
            create_user(session, "x", "janitor")
        with pytest.raises(ValueError, match=r"^username: 'nurse\.hoa' already exists"):
            create_user(session, "nurse.hoa", "admin")
        assert session.scalar(select(User.password_hash).where(User.username == "nurse.hoa")).startswith("scrypt$")
