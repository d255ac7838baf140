"""One real Label Studio per test session, shared by every test folder that needs it (reference counted)."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from annotation_ui.client import LabelStudioClient
from annotation_ui.readers import ReaderAccount, create_reader
from annotation_ui.server import DEFAULT_BIN, LabelStudioServer, credentials, is_ready, start, stop
from emr_core.settings import Settings, load_settings
from tests.conftest import require_peer


@dataclass(frozen=True)
class LabelStudioEnv:
    """The running server, its admin client and three radiologist accounts."""

    server: LabelStudioServer
    admin: LabelStudioClient
    readers: dict[str, ReaderAccount]
    root: Path  # the SGM data folder whose rendered/ is Label Studio's document root

    def reader(self, role: str) -> LabelStudioClient:
        return self.admin.as_user(self.readers[role].token)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SHARED: dict[str, Any] = {}


def _start(tmp_path_factory: pytest.TempPathFactory) -> LabelStudioEnv:
    """Start Label Studio (first start ~1 min: migrations) and create three radiologists."""
    binary = load_settings().label_studio_bin or DEFAULT_BIN
    require_peer(binary.is_file(), f"Label Studio not installed at {binary} (make setup)")
    root = tmp_path_factory.mktemp("sgm-ls")
    server = LabelStudioServer(binary, _free_port(), root / "labelstudio", root / "rendered")
    start(server)
    admin = LabelStudioClient(server.url, credentials(server).token)
    readers = {
        role: create_reader(admin, f"{role.replace('_', '')}@hospital.test")
        for role in ("reader_1", "reader_2", "adjudicator")
    }
    return LabelStudioEnv(server, admin, readers, root)


def shared_label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioEnv]:
    """The session's one server; the last session fixture using it stops it."""
    if "env" not in _SHARED:
        _SHARED.update(env=_start(tmp_path_factory), users=0)
    _SHARED["users"] += 1
    try:
        yield _SHARED["env"]
    finally:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0:
            server = _SHARED.pop("env").server
            assert stop(server), "the server we started was not running at the end of the session"
            assert not is_ready(server)


def settings_for(env: LabelStudioEnv, engine: Engine) -> Settings:
    """Settings on the session's data folder (Label Studio serves its rendered/) and the test database."""
    return Settings(home=env.root, database_url=engine.url.render_as_string(hide_password=False))


def credentials_mode(server: LabelStudioServer) -> int:
    return stat.S_IMODE((server.home / "credentials.json").stat().st_mode)


def shared_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 screening exams (16 sides, 3 findings across 2 exams), downscaled when rendered (1000x1300)."""
    from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

    if "corpus" not in _SHARED:
        out = tmp_path_factory.mktemp("corpus") / "c"
        generate_corpus(out, CorpusOptions(patients=8, seed=4, columns=1000, rows=1300, prior_fraction=0.0, workers=2))
        _SHARED["corpus"] = out
    return _SHARED["corpus"]
