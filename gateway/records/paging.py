"""Cursor pagination: newest first, stable under inserts, opaque to clients."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from skinscan.errors import InvalidRequestError

__all__ = ["MAX_LIMIT", "check_limit", "decode_cursor", "encode_cursor", "newest_first"]

MAX_LIMIT = 200
Row = TypeVar("Row", bound=Any)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(moment), str(row_id)
    except (ValueError, TypeError):
        raise InvalidRequestError("the cursor is not one this API returned") from None


def newest_first(
    query: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    limit: int,
    cursor: str | None,
) -> Select[Any]:
    """Orders newest first and starts after `cursor`; fetches one extra row to know if more follow."""
    if cursor:
        moment, last = decode_cursor(cursor)
        query = query.where(or_(created_at < moment, and_(created_at == moment, row_id < last)))
    return query.order_by(created_at.desc(), row_id.desc()).limit(check_limit(limit) + 1)
