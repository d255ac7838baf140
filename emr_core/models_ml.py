"""Model predictions: one model version's answer per study, and its boxes per image in DICOM pixels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emr_core.enums import InferenceStatus
from emr_core.models import Base, Timestamp, utcnow


class StudyInference(Base):
    """One model version run on one study: done with an exam score, or failed with the reason."""

    __tablename__ = "study_inferences"
    __table_args__ = (UniqueConstraint("study_id", "model_name", "model_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    model_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=InferenceStatus.DONE.value, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # sha256 over the study's image input hashes, in instance order: the same images give the same hash
    input_sha256: Mapped[str] = mapped_column(String(64), default="")
    exam_score: Mapped[float | None] = mapped_column(Double)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ModelPrediction(Base):
    """The boxes one model version found on one image (x_max/y_max exclusive, DICOM pixels)."""

    __tablename__ = "model_predictions"
    __table_args__ = (UniqueConstraint("study_inference_id", "instance_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_inference_id: Mapped[int] = mapped_column(ForeignKey("study_inferences.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    input_sha256: Mapped[str] = mapped_column(String(64))  # sha256 of the pixels the model was given
    boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image_score: Mapped[float] = mapped_column(Double)
