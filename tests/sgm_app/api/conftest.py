"""API fixtures: the real app over the test database, one user (and token) per role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.roles import Role
from emr_core.clinical.users import create_user, issue_token
from emr_core.db import session_scope
from emr_core.settings import Settings
from sgm_app.api import create_app

PASSWORD = "correct horse battery"


class Api:
    """A TestClient plus one bearer token per role; `as_(role)` gives the headers."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, role: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.as_(role), **kw)

    def post(self, role: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.as_(role), **kw)

    def patch(self, role: str, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.as_(role), **kw)


@pytest.fixture
def api(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Api]:
    """The app with users named after their roles (password PASSWORD); lifespan runs."""
    tokens = {}
    with session_scope(session_factory) as session:
        for role in Role:
            user = create_user(session, role.value, role.value, PASSWORD if role is Role.CLINICIAN else None)
            tokens[role.value] = issue_token(session, user)
    with TestClient(create_app(settings, max_upload_bytes=64 * 1024)) as client:
        yield Api(client, tokens)
