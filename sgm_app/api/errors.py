"""Uniform 4xx bodies: `detail` says what is wrong in words, `errors` names each field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from emr_core.clinical.patients import PatientMergedError, PatientNotFound


class FieldProblem(BaseModel):
    """One input at fault: the field's dotted name and what is wrong with it."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx answer: `detail` says what is wrong in words, `errors` names each field (may be empty)."""

    detail: str
    errors: list[FieldProblem]


_MEANING = {
    400: "The body could not be read (malformed JSON or form data)",
    401: "Missing, invalid, expired or revoked bearer token (or, for login, a wrong name or password)",
    403: "The caller's role lacks the permission this operation needs",
    404: "The patient, study, task, file or template does not exist",
    409: "Conflicts with the stored state (duplicate, closed task, or a patient merged into another: "
    "`detail` names the surviving patient)",
    410: "The record exists but its stored content is gone",
    413: "The request body is larger than the limit",
    415: "The upload's content type is not accepted or does not match its bytes",
    422: "Invalid input; `errors` names each field",
    429: "Too many failed logins: wait the number of seconds in the Retry-After header",
    503: "The configured model is not in the registry, or cannot be loaded or reached",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody model."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}


class ApiError(Exception):
    """An error with an HTTP status, a message and optionally the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers
        self.errors = errors if errors is not None else ([{"field": field, "message": message}] if field else [])


def field_error(exc: ValueError, status: int = 422) -> ApiError:
    """Turn a domain ValueError 'field: message' into an ApiError naming that field."""
    text = str(exc)
    field, sep, _ = text.partition(": ")
    return ApiError(status, text, field if sep and " " not in field else None)


def merged_error(exc: Any) -> ApiError:
    """409 for a write to a merged-away patient, naming the record that survived."""
    return ApiError(409, str(exc), errors=[{"field": "patient_id", "message": f"merged into patient {exc.survivor}"}])


def _body(message: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"detail": message, "errors": errors}


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        # Drop the 'body'/'query'/'path' prefix: the client thinks in its own field names.
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        errors.append({"field": ".".join(loc) or "(body)", "message": err.get("msg", "invalid")})
    message = "invalid input: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse(status_code=422, content=_body(message, errors))


async def _patient_not_found(_: Request, exc: PatientNotFound) -> JSONResponse:
    return JSONResponse(status_code=404, content=_body(str(exc), []))


async def _patient_merged(_: Request, exc: PatientMergedError) -> JSONResponse:
    error = merged_error(exc)
    return JSONResponse(status_code=error.status, content=_body(error.message, error.errors))


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content=_body(exc.message, exc.errors), headers=exc.headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (the router's own 405 names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(m for m in allowed if m != "HEAD")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    # The framework's own errors (unknown path, wrong method, unreadable body) get the same shape.
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(status_code=exc.status_code, content=_body(str(exc.detail), []), headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    # Any route reading or writing a patient record: unknown id is 404, merged-away patient 409 naming the survivor.
    app.add_exception_handler(PatientNotFound, _patient_not_found)  # type: ignore[arg-type]
    app.add_exception_handler(PatientMergedError, _patient_merged)  # type: ignore[arg-type]
