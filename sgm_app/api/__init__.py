"""The EMR REST API (FastAPI): patients, studies and viewer, forms, files, tasks, audit, reports."""

from sgm_app.api.app import create_app

__all__ = ["create_app"]
