"""bench/scale.py at a tiny scale on its own MariaDB database: every stage runs and the report has every figure.

Speed is not asserted here: `python bench/scale.py --scale 1` (or 5, or 50) measures it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import scale

from tests.conftest import MARIADB_SERVER, require_peer

NIGHTLY = [f"nightly {s}" for s in ("import", "search index", "ingest", "link", "images gate", "linking gate")]
# The archive's images gate comes last: the longest stage, it decides none of the other figures.
STAGES = [
    "generate archive",
    "generate increment",
    "import registry",
    "search index",
    "ingest",
    "link",
    "quality linking",
    "steward works queue",
    *NIGHTLY,  # on the archive
    *NIGHTLY,  # on an empty EMR
    "quality images",
]


def _mariadb_reachable() -> bool:
    from sqlalchemy import text

    from emr_core.db import make_engine

    engine = make_engine(MARIADB_SERVER)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def test_scale_bench_runs_every_stage_and_reports_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_peer(_mariadb_reachable(), f"MariaDB not reachable at {MARIADB_SERVER}")
    argv = ["--scale", "0.005", "--increment", "4", "--queries", "10", "--server", MARIADB_SERVER]
    partial = tmp_path / "report.json"
    args = scale.parse([*argv, "--keep", str(tmp_path / "corpora"), "--work", str(tmp_path), "--json", str(partial)])
    report = scale.run(args)
    scale.print_report(report)

    names = [s["name"] for s in report["stages"]]
    assert names == STAGES
    # Written after each stage (main writes the whole report over it at the end).
    assert [s["name"] for s in json.loads(partial.read_text())["stages"]] == STAGES
    for stage in report["stages"]:
        assert stage["seconds"] >= 0 and stage["load"], stage  # a tiny stage rounds to 0.00 s
        assert stage["memory_mib"]["main (RUSAGE_SELF)"] > 0, stage
        assert "children (RUSAGE_CHILDREN)" in stage["memory_mib"], stage
    ingest = next(s for s in report["stages"] if s["name"] == "ingest")
    assert ingest["rows"] == report["images"] > 0
    # Descendants are measured: at this tiny scale the sampler may see the pool's forkserver but not a worker.
    assert any(k.startswith(("pool worker", "forkserver")) for k in ingest["memory_mib"]), ingest["memory_mib"]
    assert report["database_mib"] > 0
    for kind in ("search", "chart"):
        assert report["http"][kind]["count"] == 10 and report["http"][kind]["p95"] > 0
    assert sum(k["count"] for k in report["http"]["search_by_kind"].values()) == 10
    assert report["nightly_s"] > 0 and report["nightly_empty_s"] > 0 and report["nightly_ratio"] > 0
    assert report["sql_archive"] and report["sql_nightly"]
    assert report["index_link_s"] > 0 and report["memory_peak_mib"] > 0
    printed = capsys.readouterr().out
    for label in ("database size", "search over HTTP", "chart over HTTP", "nightly increment", "peak memory"):
        assert label in printed
    assert not any(tmp_path.glob("sgm-scale-work-*")), "the work folder is removed"
