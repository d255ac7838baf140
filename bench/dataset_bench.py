"""Dataset export and pull figures for bench/export.py --dataset-exams N (targets from the training-datasets issue).

Export: N four-view exams at full size, de-identified, rendered, labelled, validated, published; the
seconds per exam give the projection to 1,000 exams (target < 600 s), and the peak memory of an export of
N/4 and of N exams in fresh processes shows whether memory is flat in the number of exams.
Pull: `sgm dataset pull`'s verified copy against `cp -r` of the same version folder (target >= 0.8x).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.migrate import upgrade
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedRead
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_datasets.export import ExportRequest, export_version
from sgm_datasets.pull import pull_version
from sgm_datasets.store import LocalDatasetStore

TARGET_EXPORT_S_PER_1000 = 600.0
TARGET_PULL_RATIO = 0.8


def _consolidate_all(sessions: object) -> None:
    """A concordant read on every breast side (the bench measures the export, not the reading)."""
    with session_scope(sessions) as session:  # type: ignore[arg-type]
        campaign = AnnotationCampaign(name="bench")
        session.add(campaign)
        session.flush()
        for study in session.scalars(select(Study)):
            views = {
                (i.laterality, i.view): i.id
                for i in session.scalars(select(Instance).join(Series).where(Series.study_id == study.id))
            }
            for side in "LR":
                if (side, "CC") not in views or (side, "MLO") not in views:
                    continue
                task = CampaignTask(
                    campaign_id=campaign.id,
                    study_id=study.id,
                    laterality=side,
                    cc_instance_id=views[(side, "CC")],
                    mlo_instance_id=views[(side, "MLO")],
                )
                session.add(task)
                session.flush()
                session.add(
                    ConsolidatedRead(
                        campaign_task_id=task.id, composition="b", assessment="1", source="concordant", revision_ids=[]
                    )
                )


def _state(work: Path, exams: int, columns: int, rows: int) -> Settings:
    corpus = Path(".bench") / f"dataset-{columns}x{rows}-{exams}"
    generate_corpus(
        corpus, CorpusOptions(patients=exams, seed=5, columns=columns, rows=rows, prior_fraction=0.0, workers=2)
    )
    settings = Settings(home=work / "sgm", ingest_workers=2)
    settings.root.mkdir(parents=True)
    engine = make_engine(settings.url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    ingest_paths(sessions, settings, [corpus / "dicom"])
    link_studies(sessions)
    _consolidate_all(sessions)
    return settings


def export_once(home: str, store_root: str, workers: int) -> dict[str, float]:
    """One export in this process: seconds, images, peak RSS (MB) of this process and its workers."""
    settings = Settings(home=Path(home))
    sessions = make_session_factory(make_engine(settings.url))
    request = ExportRequest(name="bench", secret=b"b" * 32, data_root=settings.root, workers=workers)
    start = time.perf_counter()
    with session_scope(sessions) as session:
        result = export_version(session, LocalDatasetStore(Path(store_root)), request)
    seconds = time.perf_counter() - start
    rss = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return {"seconds": seconds, "images": len(result.manifest), "rss_mb": rss / 1024, "version": result.version}  # type: ignore[dict-item]


def _export_in_fresh_process(settings: Settings, store: Path, workers: int) -> dict[str, float]:
    call = f"b.export_once({str(settings.root)!r}, {str(store)!r}, {workers})"
    code = f"import json, dataset_bench as b; print(json.dumps({call}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed_copy(source: Path, target: Path) -> float:
    os.sync()  # no dirty pages of the previous round left to slow this one down
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    return time.perf_counter() - start


def _timed_pull(store: Path, version: str, target: Path) -> float:
    os.sync()
    start = time.perf_counter()
    pull_version(LocalDatasetStore(store), "bench", version, target)
    return time.perf_counter() - start


def _pull_vs_copy(store: Path, version: str, work: Path, rounds: int = 3) -> tuple[float, float, int]:
    """Medians of alternating rounds (which goes first swaps each round): the disk's state favours neither."""
    source = store / "bench" / version
    size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    copies, pulls = [], []
    for r in range(rounds):
        order = ("copy", "pull") if r % 2 == 0 else ("pull", "copy")
        for kind in order:
            target = work / f"{kind}-{r}"
            if kind == "copy":
                copies.append(_timed_copy(source, target))
            else:
                pulls.append(_timed_pull(store, version, target))
            shutil.rmtree(target)
    return statistics.median(copies), statistics.median(pulls), size


def run_dataset_bench(exams: int, columns: int, rows: int, workers: int) -> int:
    Path(".bench").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=".bench") as tmp:
        work = Path(tmp)
        small = _state(work / "small", max(1, exams // 4), columns, rows)
        large = _state(work / "large", exams, columns, rows)
        first = _export_in_fresh_process(small, work / "store-small", workers)
        second = _export_in_fresh_process(large, work / "store-large", workers)
        copy, pull, size = _pull_vs_copy(work / "store-large", str(second["version"]), work)
    small_exams = max(1, exams // 4)
    # Fixed costs (process pool, checks, MLflow-free publish) are paid once: project with the marginal rate.
    marginal = (second["seconds"] - first["seconds"]) / max(1, exams - small_exams)
    projected = second["seconds"] + marginal * (1000 - exams)
    print(f"dataset export, {columns}x{rows} images, {workers} worker process(es)")
    for count, run in ((small_exams, first), (exams, second)):
        figures = f"{run['seconds']:7.1f} s, {run['images']:.0f} images, peak RSS {run['rss_mb']:.0f} MB"
        print(f"  {count:5d} exams: {figures}")
    print(f"  marginal {marginal:.2f} s per exam; projected 1,000 exams: {projected:7.0f} s", end="")
    print(f"   (target < {TARGET_EXPORT_S_PER_1000:.0f} s)")
    print(f"dataset pull of {size / 1e6:.0f} MB, medians of 3 alternating rounds:")
    print(f"  cp -r {copy:.2f} s, sgm pull {pull:.2f} s (every sha256 verified)")
    print(f"  ratio {copy / pull:.2f}x of a plain recursive copy   (target >= {TARGET_PULL_RATIO})")
    return 0
