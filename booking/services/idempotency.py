"""``Idempotency-Key``: a repeated POST returns the first result and books nothing more.

The record is written in the same transaction as the booking it answers, so either both
exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from booking.extensions import db
from booking.models import IdempotencyRecord
from booking.services.errors import ServiceError


class IdempotencyKeyReused(ServiceError):
    """The key was first used for a different request."""

    status = 422
    code = "idempotency_key_reused"


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON values: instants in UTC (the same moment written with another
    offset is the same request), dates as ISO dates, tuples and named tuples as lists."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def fingerprint(values: Mapping[str, Any]) -> str:
    """A SHA-256 of the canonical JSON of a request's parsed values (sorted keys, UTC instants)."""
    text = json.dumps(_canonical(values), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def find(user_id: int, key: str | None, path: str, request_fingerprint: str | None = None) -> IdempotencyRecord | None:
    """The record of the first request with this key, if any; refuse a key first used for
    another path or, when both requests carry a fingerprint, for a different body."""
    if not key:
        return None
    record = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if record is not None and record.request_path != path:
        raise IdempotencyKeyReused(
            gettext("Idempotency-Key %(key)s was already used for %(path)s; use a new key.",
                    key=repr(key), path=record.request_path)
        )
    stored = (record.response or {}).get("request_fingerprint") if record is not None else None
    if stored is not None and request_fingerprint is not None and stored != request_fingerprint:
        raise IdempotencyKeyReused(
            gettext("Idempotency-Key %(key)s was already used with a different request body; send the same "
                    "body to get the first answer again, or use a new key for a new request.", key=repr(key))
        )
    return record


def remember(
    user_id: int, key: str | None, path: str, status_code: int, result: dict, request_fingerprint: str | None = None,
) -> None:
    """Store what the first request with this key produced (ids, not a rendered body) and the
    fingerprint of its body (in the same JSON column, so no schema change)."""
    if key:
        response = dict(result)
        if request_fingerprint is not None:
            response["request_fingerprint"] = request_fingerprint
        db.session.add(IdempotencyRecord(
            user_id=user_id, key=key, request_path=path, status_code=status_code, response=response
        ))
