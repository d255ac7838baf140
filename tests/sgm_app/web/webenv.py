"""Helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.settings import Settings

# A browser test that writes runs on both backends (conftest.py's web_server: SQLite for all, MariaDB for these).
BOTH_BACKENDS = pytest.mark.parametrize("web_server", ["sqlite", "mariadb"], indirect=True)


def password_of(role: str) -> str:
    return f"pw-{role}-2026!"


@dataclass
class WebServer:
    """The running app: its base URL, settings, database and the corpus folder."""

    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    corpus: Path


def sign_in(page: Any, role: str, next_path: str = "/") -> None:
    """Log in through the login form as the user named after `role`."""
    page.goto(f"/login?next={next_path}")
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(password_of(role))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")
