"""Search keys follow renames (issue point 6): a registry import that renames patients is searchable at once."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from emr_core.db import session_scope
from emr_core.linking.registry import import_registry
from sgm_app.api import create_app

HEADER = "patient_id,issuer,full_name,birth_date,sex,accession_numbers\n"


def _import(session_factory, path: Path, lines: list[str]) -> None:
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    with session_scope(session_factory) as session:
        report = import_registry(session, path)
    assert not report.errors


def _found(client: TestClient, headers: dict[str, str], name: str) -> list[str]:
    response = client.get("/patients", params={"name": name}, headers=headers)
    assert response.status_code == 200, response.text
    return [r["full_name"] for r in response.json()["results"]]


def test_registry_renames_are_found_under_the_new_name_by_every_worker(
    api, session_factory, settings, tmp_path
) -> None:
    csv = tmp_path / "registry.csv"
    _import(session_factory, csv, ["BN1,BVK,Đặng Thị Hương,1975-01-02,F,", "BN2,BVK,Bùi Văn Long,1960-02-03,M,"])
    headers = api.as_("clinician")
    assert _found(api.client, headers, "dang huong") == ["Đặng Thị Hương"]
    with TestClient(create_app(settings)) as second_worker:  # another API process on the same database
        assert _found(second_worker, headers, "bui long") == ["Bùi Văn Long"]
        # The registry corrects one name (marriage, typo): no API restart in between.
        _import(
            session_factory, csv, ["BN1,BVK,Đặng Thị Hường Lan,1975-01-02,F,", "BN2,BVK,Bùi Văn Long,1960-02-03,M,"]
        )
        for client in (api.client, second_worker):
            assert _found(client, headers, "huong lan") == ["Đặng Thị Hường Lan"]
            assert _found(client, headers, "hường") == ["Đặng Thị Hường Lan"]
            assert _found(client, headers, "dang thi huong") == ["Đặng Thị Hường Lan"]  # prefix of hường
            assert _found(client, headers, "lan dang") == ["Đặng Thị Hường Lan"]
            assert _found(client, headers, "bui long") == ["Bùi Văn Long"]
        _import(session_factory, csv, ["BN1,BVK,Trịnh Thị Hoa,1975-01-02,F,"])
        for client in (api.client, second_worker):
            assert _found(client, headers, "trinh hoa") == ["Trịnh Thị Hoa"]
            assert _found(client, headers, "dang") == []
