"""The OpenAPI document is true (issue point 8): Schemathesis fuzzes every operation as every role, all checks on."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from emr_core.clinical.roles import Role

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 8  # per operation and role: the whole run stays within a couple of minutes on two cores
ERROR_CODES = {"400", "401", "403", "404", "409", "413", "415", "422"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_api(api):
    """The fixture's app (lifespan already started) served by uvicorn on a loopback port."""
    port = _free_port()
    config = uvicorn.Config(api.client.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _seed(api) -> None:
    """A patient with a task, a form and a file, so that id 1 exists on the main resources."""
    pid = api.post("clinician", "/patients", json={"full_name": "Đỗ Thị Ngọc", "birth_date": "1979-09-09"}).json()["id"]
    api.post("clinician", f"/patients/{pid}/tasks", json={"title": "recall", "due_date": "2031-01-01"})
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    api.post("clinician", f"/patients/{pid}/files", files={"file": ("a.pdf", pdf, "application/pdf")})


def test_document_declares_security_errors_and_their_real_shape(api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "cookie"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    detail = doc["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert detail["type"] == "string"
    declared = {code for path in doc["paths"].values() for op in path.values() for code in op["responses"]}
    assert ERROR_CODES | {"429", "410"} <= declared
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if path not in ("/health", "/auth/login"):
                assert op["security"][0] == {"bearer": []}, (method, path)
                assert "401" in op["responses"], (method, path)
    wrong = api.client.get("/patients/not-a-number", headers=api.as_("clinician"))
    assert wrong.status_code == 422 and isinstance(wrong.json()["detail"], str)
    assert set(doc["paths"]["/tasks/{task_id}"]) == {"patch"}
    options = api.client.request("OPTIONS", "/patients", headers=api.as_("clinician"))
    assert options.status_code == 405 and options.headers["allow"] == "GET, POST"
    undeclared = api.client.patch("/tasks/mine", headers=api.as_("clinician"), json={})
    assert undeclared.status_code == 405 and undeclared.headers["allow"] == "GET"
    assert doc["paths"]["/patients/{patient_id}/files"]["post"]["requestBody"]  # category is an enum of the kinds


@pytest.mark.slow
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(api, live_api, role: str, tmp_path) -> None:
    _seed(api)
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color"),
        *("run", f"{live_api}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES)),
        *("--seed", "20261202", "--workers", "1", "--phases", "examples,coverage,fuzzing"),
        *("--header", f"Authorization: Bearer {api.tokens[role]}", "--request-timeout", "30"),
    ]
    # Run in a scratch folder: Schemathesis keeps its example cache in ./.schemathesis.
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout, run.stdout[-3000:]
