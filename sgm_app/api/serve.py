"""The app factory uvicorn calls in each worker: settings come from SGM_* variables."""

from __future__ import annotations

from fastapi import FastAPI

from emr_core.settings import load_settings
from sgm_app.api.app import create_app


def app_from_environment() -> FastAPI:
    return create_app(load_settings())
