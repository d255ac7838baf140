"""Render mammograms once per SOP Instance UID into the data folder, in parallel, and record it."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.render import cache_path, render_stored
from emr_core.enums import LedgerStage
from emr_core.models import Instance, LedgerEntry, Series
from emr_core.settings import Settings


@dataclass(frozen=True)
class RenderReport:
    """How many images were rendered now, were already cached, or failed (with reasons)."""

    rendered: int
    cached: int
    failed: dict[str, str]
    studies_completed: int


def _render_one(job: tuple[Settings, str, str, int]) -> str | None:
    """Worker: render one stored object to its cache path; returns the error text, None on success."""
    settings, source, target, long_side = job
    try:
        render_stored(settings, source, long_side, out=target)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def render_instances(
    settings: Settings, instances: Iterable[Instance], long_side: int, workers: int = 2
) -> RenderReport:
    """Render every instance not cached yet, using `workers` processes."""
    jobs, cached, uids = [], 0, []
    for inst in instances:
        target = cache_path(settings, inst.sop_instance_uid, long_side)
        if target.exists():
            cached += 1
            continue
        jobs.append((settings, inst.stored_path, str(target), long_side))
        uids.append(inst.sop_instance_uid)
    if workers > 1 and len(jobs) > 4:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            errors = list(pool.map(_render_one, jobs, chunksize=8))
    else:
        errors = [_render_one(job) for job in jobs]
    failed = {uid: err for uid, err in zip(uids, errors, strict=False) if err}
    return RenderReport(len(jobs) - len(failed), cached, failed, 0)


def _unrendered_study_ids(session: Session) -> list[int]:
    """Studies with mammograms and no RENDERED ledger entry yet."""
    done = select(LedgerEntry.study_id).where(LedgerEntry.stage == LedgerStage.RENDERED)
    query = (
        select(Series.study_id)
        .join(Instance, Instance.series_id == Series.id)
        .where(Instance.is_mammogram.is_(True), Series.study_id.not_in(done))
        .distinct()
    )
    return list(session.scalars(query))


def mammograms_of(session: Session, study_ids: list[int]) -> list[Instance]:
    """The mammogram instances of the given studies."""
    query = (
        select(Instance)
        .join(Series, Instance.series_id == Series.id)
        .where(Series.study_id.in_(study_ids), Instance.is_mammogram.is_(True))
        .order_by(Instance.id)
    )
    return list(session.scalars(query))


def render_pending(
    session_factory: sessionmaker[Session],
    settings: Settings,
    long_side: int = 1024,
    workers: int = 2,
    batch: int = 200,
) -> RenderReport:
    """Render the mammograms of every study not rendered yet; mark studies whose images all rendered."""
    with session_scope(session_factory) as session:
        pending = _unrendered_study_ids(session)
    totals, failed, completed = [0, 0], {}, 0
    for start in range(0, len(pending), batch):
        with session_scope(session_factory) as session:
            ids = pending[start : start + batch]
            instances = mammograms_of(session, ids)
            report = render_instances(settings, instances, long_side, workers)
            bad_studies = {i.series_id for i in instances if i.sop_instance_uid in report.failed}
            series_study = dict(
                session.execute(select(Series.id, Series.study_id).where(Series.id.in_(bad_studies))).all()
            )
            for study_id in set(ids) - set(series_study.values()):
                session.add(LedgerEntry(study_id=study_id, stage=LedgerStage.RENDERED, detail=f"long side {long_side}"))
                completed += 1
        totals[0], totals[1] = totals[0] + report.rendered, totals[1] + report.cached
        failed.update(report.failed)
    return RenderReport(totals[0], totals[1], failed, completed)


def document_path(settings: Settings, sop_instance_uid: str, long_side: int) -> str:
    """The image's path relative to Label Studio's document root (settings.root / 'rendered')."""
    return Path(cache_path(settings, sop_instance_uid, long_side)).relative_to(settings.rendered_dir).as_posix()
