"""Reading subscription feeds: which token, which appointments, and a cheap version for ETags."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Appointment, FeedToken, Practitioner, PrepRule, Protocol, Room, Series, Treatment, User
from booking.models.access import hash_secret
from booking.models.base import utcnow
from booking.scheduling.model import PrepStep
from booking.services.clinic import get_settings
from booking.services.tokens import touch

HISTORY = timedelta(days=60)  # past appointments a feed still shows
CANCELLED_KEPT = timedelta(days=30)  # cancelled ones stay (as CANCELLED) so clients remove them


def find_feed(secret: str, now: datetime | None = None) -> FeedToken | None:
    """The live feed token for ``secret``; records when it was last used (at most once a minute)."""
    feed = db.session.scalar(select(FeedToken).where(FeedToken.token_hash == hash_secret(secret)))
    if feed is None or feed.revoked_at is not None:
        return None
    now = now or utcnow()
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(minutes=1):
        touch(FeedToken, feed.id, now)
    return feed


def _scope_filter(feed: FeedToken):
    """The WHERE clause of one feed's scope."""
    if feed.scope == "practitioner":
        return Appointment.practitioner_id == feed.target_id
    if feed.scope == "room":
        return Appointment.room_id == feed.target_id
    if feed.scope == "patient":
        return Appointment.patient_id == feed.target_id
    return True  # clinic


def _window(feed: FeedToken, now: datetime):
    """Recent and future appointments; cancelled ones only while clients may still hold them."""
    return and_(
        _scope_filter(feed),
        Appointment.start_at >= now - HISTORY,
        or_(Appointment.status != "cancelled", Appointment.updated_at >= now - CANCELLED_KEPT),
    )


def feed_version(feed: FeedToken, now: datetime | None = None) -> tuple[str, datetime | None]:
    """An ETag and Last-Modified for the feed, from one aggregate query (no feed is built).

    It changes when any appointment in the feed changes, appears or leaves the window, and
    when the clinic's settings (name, discretion) or the day (the window moves) change.
    """
    now = now or utcnow()
    count, last, ids = db.session.execute(
        select(func.count(Appointment.id), func.max(Appointment.updated_at), func.sum(Appointment.id))
        .where(_window(feed, now))
    ).one()
    settings = get_settings()
    if isinstance(last, str):  # aggregates bypass the column type on SQLite
        last = datetime.fromisoformat(last).replace(tzinfo=now.tzinfo)
    elif last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    key = f"{feed.id}:{count}:{ids}:{last}:{settings.name}:{settings.show_treatment_in_invites}:{now.date()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], last


def feed_appointments(feed: FeedToken, now: datetime | None = None) -> list[Appointment]:
    """The feed's appointments with what building the events needs, loaded in bulk."""
    now = now or utcnow()
    query: Select = (
        select(Appointment)
        .where(_window(feed, now))
        .options(
            selectinload(Appointment.patient),
            selectinload(Appointment.treatment).selectinload(Treatment.protocol).selectinload(Protocol.prep_rules),
            selectinload(Appointment.room),
            selectinload(Appointment.practitioner).selectinload(Practitioner.user),
            selectinload(Appointment.series).selectinload(Series.treatment).selectinload(Treatment.protocol),
        )
        .order_by(Appointment.start_at, Appointment.id)
    )
    return list(db.session.scalars(query))


def prep_steps_by_treatment(appointments: list[Appointment]) -> dict[int, tuple[PrepStep, ...]]:
    """Each treatment's prep steps, for a patient feed's all-day events."""
    steps: dict[int, tuple[PrepStep, ...]] = {}
    for appointment in appointments:
        protocol = appointment.treatment.protocol
        if appointment.treatment_id not in steps:
            rules: list[PrepRule] = protocol.prep_rules if protocol else []
            steps[appointment.treatment_id] = tuple(PrepStep(r.instruction, r.lead_hours, r.remind) for r in rules)
    return steps


def feed_name(feed: FeedToken) -> str:
    """X-WR-CALNAME: "Villa Rosa · Dr Giulia Bianchi"."""
    clinic = get_settings().name
    if feed.scope == "practitioner":
        practitioner = db.session.get(Practitioner, feed.target_id)
        return f"{clinic} · {practitioner.name if practitioner else 'practitioner'}"
    if feed.scope == "room":
        room = db.session.get(Room, feed.target_id)
        return f"{clinic} · {room.name if room else 'room'}"
    if feed.scope == "patient":
        patient = db.session.get(User, feed.target_id)
        return f"{clinic} · my appointments" if patient else clinic
    return f"{clinic} · all appointments"
