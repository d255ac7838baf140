"""Benchmark a campaign of N exams against a real Label Studio: provisioning (incl. rendering) and consolidation.

    python bench/annotation.py [--exams 1000] [--columns 832 --rows 1024] [--threads 6]

Targets (issue 4): provisioning 1,000 exams (4,000 images) incl. rendering < 10 min; consolidating
1,000 annotated exams < 1 min. The corpus, ingest, server start and the readers' posting are not timed.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from annotation_ui.campaigns import provision_campaign
from annotation_ui.client import LabelStudioClient
from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.readers import create_reader, register_reader
from annotation_ui.server import LabelStudioServer, credentials, start, stop
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.migrate import upgrade
from emr_core.models import Study
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(args: argparse.Namespace, work: Path) -> tuple[Settings, Path, list[int]]:
    """A fresh data folder with the corpus ingested (moved in, to spare the disk)."""
    corpus = work / "corpus"
    shutil.rmtree(work, ignore_errors=True)
    generate_corpus(
        corpus,
        CorpusOptions(patients=args.exams, seed=2, columns=args.columns, rows=args.rows, prior_fraction=0.0, workers=2),
    )
    settings = Settings(home=work / "home")
    settings.root.mkdir(parents=True)
    engine = make_engine(settings.url)
    upgrade(engine)
    factory = make_session_factory(engine)
    ingest_paths(factory, settings, [corpus / "dicom"], move=True)
    with session_scope(factory) as session:
        return settings, corpus, list(session.scalars(select(Study.id)))


def _post_reads(
    admin: LabelStudioClient, tokens: dict[str, str], factory, campaign_id: int, corpus: Path, threads: int
) -> int:
    """Both readers read every side as the ground truth says, through the API, in parallel."""
    gt = ground_truth(corpus)
    with session_scope(factory) as session:
        jobs = [(role, t) for role in tokens for t in reader_tasks(session, role, campaign_id, gt)]
    clients = {role: admin.as_user(token) for role, token in tokens.items()}

    def post(job: tuple) -> int:
        role, t = job
        return clients[role].create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))

    with ThreadPoolExecutor(threads) as pool:
        return len(list(pool.map(post, jobs)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exams", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=832)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=6)
    args = parser.parse_args(argv)
    work = Path(".bench") / f"annotation-{args.exams}"
    t0 = time.perf_counter()
    settings, corpus, study_ids = _prepare(args, work)
    print(f"corpus + ingest of {len(study_ids)} exams: {time.perf_counter() - t0:.0f} s (not timed)")
    server = LabelStudioServer.from_settings(settings, port=_free_port())
    start(server)
    try:
        admin = LabelStudioClient(server.url, credentials(server).token)
        factory = make_session_factory(make_engine(settings.url))
        accounts = {
            r: create_reader(admin, f"{r.replace('_', '')}@bench.test") for r in ("reader_1", "reader_2", "adjudicator")
        }
        with session_scope(factory) as session:
            for account in accounts.values():
                register_reader(session, account)
        t1 = time.perf_counter()
        report = provision_campaign(
            factory,
            settings,
            admin,
            "bench",
            study_ids,
            (accounts["reader_1"].email, accounts["reader_2"].email),
            accounts["adjudicator"].email,
        )
        provision_s = time.perf_counter() - t1
        print(
            f"provisioning {report.exams} exams, {report.tasks} sides, {report.images_rendered} images rendered "
            f"({args.columns}x{args.rows} -> long side 1024): {provision_s:.1f} s (target < 600 s)"
        )
        t2 = time.perf_counter()
        tokens = {r: accounts[r].token for r in ("reader_1", "reader_2")}
        posted = _post_reads(admin, tokens, factory, report.campaign_id, corpus, args.threads)
        print(f"{posted} reads posted by the two readers: {time.perf_counter() - t2:.0f} s (not timed)")
        t3 = time.perf_counter()
        result = consolidate_campaign(factory, admin, "bench")
        consolidate_s = time.perf_counter() - t3
        print(
            f"consolidating {report.exams} annotated exams: {consolidate_s:.1f} s (target < 60 s); "
            f"states {result.states}, {result.findings} findings, agreement {result.agreement}"
        )
    finally:
        stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
