"""``Idempotency-Key``: a repeated POST returns the first result and books nothing more.

The record is written in the same transaction as the booking it answers, so either both
exist or neither does.
"""

from __future__ import annotations

from sqlalchemy import select

from booking.extensions import db
from booking.models import IdempotencyRecord
from booking.services.errors import ServiceError


class IdempotencyKeyReused(ServiceError):
    """The key was first used for a different request."""

    status = 422
    code = "idempotency_key_reused"


def find(user_id: int, key: str | None, path: str) -> IdempotencyRecord | None:
    """The record of the first request with this key, if any."""
    if not key:
        return None
    record = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if record is not None and record.request_path != path:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for {record.request_path}; use a new key."
        )
    return record


def remember(user_id: int, key: str | None, path: str, status_code: int, result: dict) -> None:
    """Store what the first request with this key produced (ids, not a rendered body)."""
    if key:
        db.session.add(IdempotencyRecord(
            user_id=user_id, key=key, request_path=path, status_code=status_code, response=result
        ))
