"""`sgm gateway config|schemes|scheme|phase` without servers (the gateway itself is tested in tests/annotation_ui)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotation_ui.schemes import SCHEMES
from tests.conftest import SgmCli, require_peer


def test_config_is_rendered_under_the_data_folder_and_accepted_by_nginx(
    sgm: SgmCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_peer(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file(), "nginx is not installed")
    monkeypatch.setenv("SGM_GATEWAY_PORT", "18999")
    result = sgm("gateway", "config")
    assert result.exit_code == 0, result.output
    conf = Path(result.output.strip()).read_text()
    assert "listen 127.0.0.1:18999;" in conf and "auth_request /_gateway/auth;" in conf
    assert "daemon off;" in conf and str(tmp_path) in conf  # pid, logs and temp files stay in the data folder


def test_schemes_are_listed_and_bad_names_refused(sgm: SgmCli) -> None:
    listed = sgm("gateway", "schemes")
    assert listed.exit_code == 0 and all(name in listed.output for name in SCHEMES)
    assert "look only during review" in listed.output
    missing = sgm("gateway", "scheme", "no-such-campaign", "single")
    assert missing.exit_code == 1 and "no campaign named 'no-such-campaign'" in missing.output
    assert sgm("gateway", "phase", "--help").exit_code == 0
