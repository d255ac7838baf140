"""A database of a bench's own on a MySQL/MariaDB server: created for the run, dropped at its end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from emr_core.db import make_engine


@contextmanager
def own_database(server_url: str, prefix: str = "sgm_bench") -> Iterator[str]:
    """A fresh utf8mb4 database on this server, dropped afterwards; yields its URL."""
    server = make_engine(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    try:
        yield f"{server_url.rstrip('/')}/{name}?charset=utf8mb4"
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()
