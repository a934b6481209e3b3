"""Reading a posted form's fields, with errors a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from starlette.datastructures import UploadFile

from skinscan.errors import InvalidRequestError

__all__ = [
    "checkbox",
    "optional_date",
    "optional_datetime",
    "optional_int",
    "text",
    "upload",
]


def text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def checkbox(form: Mapping[str, Any], name: str) -> bool:
    return form.get(name) is not None


def optional_date(form: Mapping[str, Any], name: str, what: str) -> date | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{what} must be a date (year-month-day)") from None


def optional_datetime(form: Mapping[str, Any], name: str, what: str) -> datetime | None:
    day = optional_date(form, name, what)
    return datetime(day.year, day.month, day.day) if day else None


def optional_int(form: Mapping[str, Any], name: str, what: str) -> int | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequestError(f"{what} must be a whole number") from None


def optional_share(form: Mapping[str, Any], name: str, what: str) -> float | None:
    """A percentage typed in a form ("10" or "2.5"), as a share (0.1, 0.025)."""
    value = text(form, name)
    if not value:
        return None
    try:
        percent = float(value)
    except ValueError:
        raise InvalidRequestError(f"{what} must be a number of percent, e.g. 10") from None
    if not 0 <= percent <= 100:
        raise InvalidRequestError(f"{what} must be between 0 and 100 percent")
    return percent / 100


def upload(form: Mapping[str, Any], *names: str) -> UploadFile | None:
    """The first of the file fields `names` that holds a file (upload or camera)."""
    for name in names:
        value = form.get(name)
        if isinstance(value, UploadFile) and (value.filename or value.size):
            return value
    return None
