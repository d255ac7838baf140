"""Shared input types: every integer fits a signed 64-bit column, dates are ISO text, names are printable."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field

from emr_core.clinical.demographics import check_birth_date, clean_name

# SQLite and MariaDB store ids as signed 64-bit integers; a larger value must be refused, not sent.
MAX_DB_INT = 2**63 - 1
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_only(value: Any) -> Any:
    # Pydantic would read 0 or "0" as a Unix timestamp (1970-01-01); only YYYY-MM-DD is a date here.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _domain(check: Any) -> Any:
    def run(value: Any) -> Any:
        try:
            return check(value)
        except ValueError as exc:  # the domain says 'field: message'; pydantic adds the field itself
            raise ValueError(str(exc).partition(": ")[2] or str(exc)) from None

    return run


DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
BirthDate = Annotated[date, BeforeValidator(_iso_only), AfterValidator(_domain(check_birth_date))]
PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_domain(clean_name))]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_DB_INT)]
