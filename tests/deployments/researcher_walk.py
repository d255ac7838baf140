"""Issue 9's "done when", walked on the demo `make run` made: a researcher lists and pulls the first dataset
version, a PHI scan of it finds nothing, a second export of the unchanged state has the same id, the Dagster
UI's GraphQL shows the blocking quality checks that gate the export (passed), and MLflow has the version."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from emr_core.db import make_engine, make_session_factory
from emr_core.settings import Settings
from quality.suites.dataset import normalise
from sgm_datasets.mlflow_log import runs_with_version
from tests.sgm_datasets.phi_scan import scan_for_phi

SGM = Path(sys.executable).parent / "sgm"
GATES = {"dicom_instances": "dicom_instances_quality", "linked_studies": "linked_studies_quality",
         "consolidated_findings": "consolidated_findings_quality"}  # fmt: skip


def _sgm(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(SGM), *args], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"sgm {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return dict(body["data"])


CHECK_QUERY = """{ %s }"""
CHECK_FIELD = """%s: assetCheckExecutions(assetKey: {path: ["%s"]}, checkName: "%s", limit: 10) {
  status evaluation { success } }"""
NODES_QUERY = """{ assetNodes(assetKeys: [%s]) { assetKey { path }
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
EXPORT_QUERY = """{ assetOrError(assetKey: {path: ["training_dataset"]}) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label ... on TextMetadataEntry { text } } } } } }"""


def dagster_gates(port: int) -> dict[str, tuple[bool, str, bool]]:
    """Per gating check: blocking?, status of its latest execution, its evaluation's verdict."""
    keys = ", ".join(f'{{path: ["{asset}"]}}' for asset in GATES)
    nodes = _graphql(port, NODES_QUERY % keys)["assetNodes"]
    blocking = {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"]["checks"]}
    fields = " ".join(CHECK_FIELD % (check, asset, check) for asset, check in GATES.items())
    executions = _graphql(port, CHECK_QUERY % fields)
    # The latest *finished* execution: a consolidation run the sensor started may have only planned its check.
    latest = {check: next((e for e in executions[check] if e["evaluation"]), None) for check in GATES.values()}
    return {
        check: (blocking[check], found["status"], bool(found["evaluation"]["success"]))
        for check, found in latest.items()
        if found is not None
    }


def dagster_export_version(port: int) -> str:
    """The version the training_dataset asset's latest materialization reports."""
    materialization = _graphql(port, EXPORT_QUERY)["assetOrError"]["assetMaterializations"][0]
    return next(str(e["text"]) for e in materialization["metadataEntries"] if e["label"] == "version")


def _demo_people(home: Path) -> set[str]:
    """The synthetic persons' names and birth dates, straight from the corpus's ground truth."""
    with (home / "demo" / "ground_truth" / "persons.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    values = {r["full_name"] for r in rows} | {r["birth_date"] for r in rows} | {r["registry_patient_id"] for r in rows}
    return {normalise(v) for v in values if v and len(normalise(v)) >= 4}


def _phi_problems(env: dict[str, str], pulled: Path) -> list[str]:
    settings = Settings(home=Path(env["SGM_HOME"]))
    state = SimpleNamespace(sessions=make_session_factory(make_engine(settings.url)))
    problems = scan_for_phi(pulled, state)
    needles = _demo_people(Path(env["SGM_HOME"]))
    for path in (p for p in pulled.rglob("*") if p.suffix in (".csv", ".json", ".html")):
        text = normalise(path.read_text(encoding="utf-8"))
        problems += [f"{path.name}: a demo person's name, identifier or birth date" for n in needles if n in text]
    return problems


def walk_the_researcher_path(env: dict[str, str], ports: dict[str, int], scratch: Path) -> None:
    version = dagster_export_version(ports["SGM_DAGSTER_PORT"])  # the demo's first version, exported by Dagster
    assert f"demo@{version[:12]}" in _sgm(env, "dataset", "list")
    pulled = scratch / "pulled"
    _sgm(env, "dataset", "pull", f"demo@{version}", str(pulled))
    assert (pulled / "manifest.parquet").is_file() or any(pulled.rglob("*.parquet"))
    assert any(pulled.rglob("*.dcm")), "the pulled version holds no DICOM"
    assert _phi_problems(env, pulled) == []

    # The model loop's AI-assisted reads became final after Dagster's export, so the state may have changed since:
    # one export brings it up to date, and a second one of that unchanged state must find the same version.
    current = re.search(r"version demo@([0-9a-f]{64})", _sgm(env, "dataset", "export", "demo"))
    assert current is not None
    again = _sgm(env, "dataset", "export", "demo")
    assert f"unchanged, existing version demo@{current.group(1)}" in again, again

    gates = dagster_gates(ports["SGM_DAGSTER_PORT"])
    assert gates == {check: (True, "SUCCEEDED", True) for check in GATES.values()}, gates

    mlflow = f"http://127.0.0.1:{ports['SGM_MLFLOW_PORT']}"
    assert runs_with_version(mlflow, version), f"MLflow at {mlflow} has no run with demo@{version}"
    with urllib.request.urlopen(mlflow, timeout=60) as response:  # the UI a researcher opens
        assert response.status == 200
