"""Uniform 4xx bodies: `detail` says what is wrong in words, `errors` names each field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


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


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content=_body(exc.message, exc.errors), headers=exc.headers)


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    # The framework's own errors (unknown path, wrong method, unreadable body) get the same shape.
    return JSONResponse(status_code=exc.status_code, content=_body(str(exc.detail), []), headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
