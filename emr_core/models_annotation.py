"""Annotation campaigns: readers, Label Studio projects and tasks, revisions, consolidated findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emr_core.enums import CampaignTaskState
from emr_core.models import Base, Timestamp, utcnow


class AnnotationCampaign(Base):
    """A set of exams read blindly by two readers, with adjudication of the discordant ones."""

    __tablename__ = "annotation_campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    long_side: Mapped[int] = mapped_column(Integer, default=1024)
    schema_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    agreement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # annotation_ui.schemes: who may see which project in which phase (enforced by the reading gateway)
    scheme: Mapped[str] = mapped_column(String(32), default="blind_double", server_default="blind_double")
    phase: Mapped[str] = mapped_column(String(16), default="reading", server_default="reading")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AnnotationReader(Base):
    """A radiologist account in Label Studio."""

    __tablename__ = "annotation_readers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    ls_user_id: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ReaderAssignment(Base):
    """One reader's role in a campaign and the Label Studio project only they should work in."""

    __tablename__ = "reader_assignments"
    __table_args__ = (UniqueConstraint("campaign_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("annotation_campaigns.id"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("annotation_readers.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # reader_1, reader_2, adjudicator
    ls_project_id: Mapped[int] = mapped_column(Integer, unique=True)


class CampaignTask(Base):
    """One breast side of one exam: the CC and MLO images read together."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (UniqueConstraint("campaign_id", "study_id", "laterality"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("annotation_campaigns.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    laterality: Mapped[str] = mapped_column(String(1))
    cc_instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"))
    mlo_instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"))
    state: Mapped[str] = mapped_column(String(16), default=CampaignTaskState.PENDING.value, index=True)
    discordance: Mapped[list[str]] = mapped_column(JSON, default=list)


class LabelStudioTask(Base):
    """A campaign task as it exists in one reader's project, at its place in that reader's order."""

    __tablename__ = "label_studio_tasks"
    __table_args__ = (UniqueConstraint("assignment_id", "campaign_task_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("reader_assignments.id"), index=True)
    campaign_task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), index=True)
    ls_task_id: Mapped[int] = mapped_column(Integer, unique=True)
    position: Mapped[int] = mapped_column(Integer)


class AnnotationRevision(Base):
    """Every distinct content of a Label Studio annotation ever pulled, with its validation verdict."""

    __tablename__ = "annotation_revisions"
    __table_args__ = (UniqueConstraint("ls_annotation_id", "result_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("reader_assignments.id"), index=True)
    campaign_task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), index=True)
    ls_annotation_id: Mapped[int] = mapped_column(Integer, index=True)
    completed_by: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(Integer)
    ls_updated_at: Mapped[str] = mapped_column(String(40), default="")
    result: Mapped[list[Any]] = mapped_column(JSON, default=list)
    result_sha256: Mapped[str] = mapped_column(String(64))
    valid: Mapped[bool] = mapped_column(Boolean, default=False)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    pulled_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ConsolidatedRead(Base):
    """The agreed composition and assessment of one breast side, and where they came from."""

    __tablename__ = "consolidated_reads"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), unique=True)
    composition: Mapped[str] = mapped_column(String(1))
    assessment: Mapped[str] = mapped_column(String(2))
    source: Mapped[str] = mapped_column(String(16))  # concordant or adjudicated
    revision_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    consolidated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ConsolidatedFinding(Base):
    """One lesion, with its CC and MLO boxes in DICOM pixel coordinates (xmax/ymax exclusive)."""

    __tablename__ = "consolidated_findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    finding_uid: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    laterality: Mapped[str] = mapped_column(String(1))
    finding_type: Mapped[str] = mapped_column(String(40))
    birads: Mapped[str] = mapped_column(String(2))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cc_instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id"))
    cc_xmin: Mapped[float | None] = mapped_column(Double)
    cc_ymin: Mapped[float | None] = mapped_column(Double)
    cc_xmax: Mapped[float | None] = mapped_column(Double)
    cc_ymax: Mapped[float | None] = mapped_column(Double)
    mlo_instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id"))
    mlo_xmin: Mapped[float | None] = mapped_column(Double)
    mlo_ymin: Mapped[float | None] = mapped_column(Double)
    mlo_xmax: Mapped[float | None] = mapped_column(Double)
    mlo_ymax: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16))
    consolidated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class BlindingViolation(Base):
    """An annotation made or changed by someone other than the reader its project belongs to."""

    __tablename__ = "blinding_violations"
    __table_args__ = (UniqueConstraint("assignment_id", "ls_annotation_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("annotation_campaigns.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("reader_assignments.id"), index=True)
    ls_annotation_id: Mapped[int] = mapped_column(Integer)
    ls_task_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    detected_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
