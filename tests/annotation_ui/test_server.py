"""Label Studio as a component: credentials, closed signup, reader accounts, CLI, refusal of a busy port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.readers import ReaderError, create_reader
from annotation_ui.server import LabelStudioError, LabelStudioServer, credentials, install_check, start
from emr_core.db import session_scope
from emr_core.models_annotation import AnnotationReader
from emr_core.settings import Settings
from sgm_app.cli import _register, cli
from tests.support.lsenv import LabelStudioEnv, credentials_mode


def _outward_addresses() -> list[str]:
    """This machine's address towards the network, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return []
        address = sock.getsockname()[0]
    return [] if address.startswith("127.") else [address]


def test_credentials_are_generated_private_and_work(label_studio: LabelStudioEnv) -> None:
    creds = credentials(label_studio.server)
    assert credentials_mode(label_studio.server) == 0o600
    assert len(creds.password) >= 24 and creds.password != "admin" and len(creds.token) == 40
    assert label_studio.admin.whoami()["email"] == creds.email
    assert install_check(label_studio.server) == "1.23.2"
    # Loopback only: the port answers on 127.0.0.1 and not on this machine's other addresses.
    for address in _outward_addresses():
        with socket.socket() as sock:
            assert sock.connect_ex((address, label_studio.server.port)) != 0, address


def test_signup_is_closed_without_an_invite(label_studio: LabelStudioEnv) -> None:
    http = requests.Session()
    url = f"{label_studio.server.url}/user/signup/"
    http.get(url, timeout=30)
    response = http.post(
        url,
        timeout=30,
        allow_redirects=False,
        headers={"Referer": url},
        data={
            "csrfmiddlewaretoken": http.cookies.get("csrftoken", ""),
            "email": "intruder@example.org",
            "password": "Intruder-password-1",
        },
    )
    assert response.status_code == 403
    assert "intruder@example.org" not in [u["email"] for u in label_studio.admin.get("/api/users/")]


def test_readers_have_their_own_tokens(label_studio: LabelStudioEnv) -> None:
    ids = {role: label_studio.reader(role).whoami()["id"] for role in label_studio.readers}
    assert len(set(ids.values())) == 3 and ids == {r: a.ls_user_id for r, a in label_studio.readers.items()}
    with pytest.raises(ReaderError, match="already has"):
        create_reader(label_studio.admin, label_studio.readers["reader_1"].email)
    with pytest.raises(ReaderError, match="not an email"):
        create_reader(label_studio.admin, "nobody")


def test_busy_port_is_refused(label_studio: LabelStudioEnv, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        server = LabelStudioServer(label_studio.server.binary, port, tmp_path / "ls", tmp_path / "rendered")
        with pytest.raises(LabelStudioError, match=f"port {port} is in use"):
            start(server, timeout=5)
    missing = LabelStudioServer(tmp_path / "nope" / "label-studio", port, tmp_path / "ls", tmp_path / "r")
    with pytest.raises(LabelStudioError, match="make setup"):
        install_check(missing)


def test_cli_status_and_readers_add(
    label_studio: LabelStudioEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SGM_HOME", str(ls_settings.root))
    monkeypatch.setenv("SGM_DATABASE_URL", ls_settings.url)
    monkeypatch.setenv("SGM_LABEL_STUDIO_PORT", str(label_studio.server.port))
    # The session server keeps its credentials in its own folder: point the CLI's data folder at it.
    _register()
    runner = CliRunner()
    status = runner.invoke(cli, ["labelstudio", "status"])
    assert status.exit_code == 0 and "up at" in status.output
    email = f"cli-{session_factory.kw['bind'].dialect.name}@hospital.test"
    added = runner.invoke(cli, ["readers", "add", email])
    assert added.exit_code == 0, added.output
    assert "password (shown once" in added.output
    with session_scope(session_factory) as session:
        assert session.scalars(select(AnnotationReader.email)).all() == [email]
