"""A real dataset version to train detectors on: a synthetic corpus ingested, linked, read as its ground truth
(each side's final read is exactly what was drawn into the pixels) and exported through sgm_datasets."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.consolidation import mark_annotated
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.deid import key_path, load_or_create_key
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.migrate import upgrade
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedFinding, ConsolidatedRead
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_datasets.export import ExportRequest, export_version
from sgm_datasets.site import site_store

DATASET = "screening"
# 60 patients: about a dozen exams with findings, so the held-out split has lesions to find.
MODEL_CORPUS = CorpusOptions(patients=60, seed=5, columns=256, rows=320, prior_fraction=0.0)


@dataclass(frozen=True)
class ModelDataset:
    """Settings whose data folder holds the version, and the version's name and id."""

    settings: Settings
    name: str
    version: str


def _csv(corpus: Path, name: str) -> list[dict[str, str]]:
    with (corpus / "ground_truth" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _finding(task: CampaignTask, row: dict[str, str], boxes: dict[str, dict[str, str]]) -> ConsolidatedFinding:
    coords = {
        f"{view}_{edge}": float(boxes[view][edge]) if view in boxes else None
        for view in ("cc", "mlo")
        for edge in ("xmin", "ymin", "xmax", "ymax")
    }
    return ConsolidatedFinding(
        finding_uid=f"{row['finding_id']}-{task.id}",
        campaign_task_id=task.id,
        study_id=task.study_id,
        laterality=task.laterality,
        finding_type=row["finding_type"],
        birads=row["birads"],
        attributes={},
        cc_instance_id=task.cc_instance_id,
        mlo_instance_id=task.mlo_instance_id,
        source="concordant",
        **coords,
    )


def consolidate_ground_truth(
    sessions: sessionmaker[Session], corpus: Path, campaign: str = "gt", only: Collection[str] | None = None
) -> int:
    """A concordant final read per study side (of the `only` study UIDs), equal to the corpus ground truth;
    returns the sides read."""
    sides = {(r["study_uid"], r["laterality"]): r for r in _csv(corpus, "breasts")}
    findings: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in _csv(corpus, "findings"):
        findings[(r["study_uid"], r["laterality"])].append(r)
    boxes: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for r in _csv(corpus, "boxes"):
        boxes[r["finding_id"]][r["view"].lower()] = r
    with session_scope(sessions) as session:
        owner = session.scalar(select(AnnotationCampaign).where(AnnotationCampaign.name == campaign))
        if owner is None:
            owner = AnnotationCampaign(name=campaign)
            session.add(owner)
            session.flush()
        count, read_studies = 0, set[int]()
        for study in session.scalars(select(Study).order_by(Study.id)):
            if only is not None and study.study_uid not in only:
                continue
            images = {
                (i.laterality, i.view): i.id
                for i in session.scalars(select(Instance).join(Series).where(Series.study_id == study.id))
            }
            for side in "LR":
                truth = sides.get((study.study_uid, side))
                if truth is None or (side, "CC") not in images or (side, "MLO") not in images:
                    continue
                task = CampaignTask(
                    campaign_id=owner.id, study_id=study.id, laterality=side,
                    cc_instance_id=images[(side, "CC")], mlo_instance_id=images[(side, "MLO")],
                )  # fmt: skip
                session.add(task)
                session.flush()
                session.add(
                    ConsolidatedRead(
                        campaign_task_id=task.id, composition=truth["composition"],
                        assessment=truth["assessment"], source="concordant", revision_ids=[],
                    )
                )  # fmt: skip
                for row in findings[(study.study_uid, side)]:
                    session.add(_finding(task, row, boxes[row["finding_id"]]))
                count += 1
                read_studies.add(study.id)
        mark_annotated(session, read_studies, f"campaign {campaign}")
    return count


def build_model_dataset(home: Path, options: CorpusOptions, png_long_side: int = 512) -> ModelDataset:
    """Generate, ingest, link, read and export: the dataset version a training run starts from."""
    corpus = home / "corpus"
    generate_corpus(corpus, options)
    settings = Settings(home=home / "sgm", database_url=f"sqlite:///{home / 'emr.db'}", ingest_workers=1)
    settings.root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    upgrade(engine)
    sessions = make_session_factory(engine, settings)
    ingest_paths(sessions, settings, [corpus / "dicom"])
    link_studies(sessions)
    consolidate_ground_truth(sessions, corpus)
    request = ExportRequest(
        name=DATASET, secret=load_or_create_key(key_path(settings)), data_root=settings.root, user="test",
        png_long_side=png_long_side,
    )  # fmt: skip
    with session_scope(sessions) as session:
        result = export_version(session, site_store(settings), request)
    engine.dispose()
    return ModelDataset(settings, DATASET, result.version)
