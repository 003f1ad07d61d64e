"""Reading subscription feeds: which token, which appointments, and a cheap version for ETags.

A feed is written in its reader's language (issue 16): a patient's feed in the patient's, a
practitioner's in that practitioner's, a room's or the clinic's in the clinic's default language
(``feed_reader``), the clinic's texts (treatment names, prep and aftercare steps) included.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

from sqlalchemy import TypeCoerce, and_, case, event, func, or_, select, type_coerce
from sqlalchemy.engine import Dialect
from flask_babel import gettext
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from booking.calendar.feeds import FeedAftercare, FeedEvent, FeedPrep, FeedSpec, build_feed
from booking.extensions import db
from booking.mail.rendering import reader_locale, written_for
from booking.models import (
    HELD, AftercareRule, Appointment, AuditEvent, FeedToken, Practitioner, PrepRule, Protocol, Room, Treatment, User,
)
from booking.models.access import hash_secret
from booking.models.base import UTCDateTime, utcnow
from booking.services.clinic import get_settings
from booking.services.feed_links import maker_may_share
from booking.services.tokens import touch

HISTORY = timedelta(days=60)  # past appointments a feed still shows
CANCELLED_KEPT = timedelta(days=30)  # cancelled ones stay (as CANCELLED) so clients remove them


def find_feed(secret: str, now: datetime | None = None) -> FeedToken | None:
    """The live feed token for ``secret``; records when it was last used (at most once a minute).

    None for an unknown or revoked secret, and for a feed whose maker could no longer make it
    (deactivated, erased, or now in a role that may not share this calendar): a feed dies with
    its maker's access, checked here at each fetch in the same query.
    """
    found = db.session.execute(
        select(FeedToken, User.active, User.role, Practitioner.id)
        .outerjoin(User, User.id == FeedToken.created_by_id)
        .outerjoin(Practitioner, Practitioner.user_id == User.id)
        .where(FeedToken.token_hash == hash_secret(secret))
    ).first()
    if found is None:
        return None
    feed, maker_active, maker_role, maker_practitioner_id = found
    if feed.revoked_at is not None or not maker_may_share(feed, maker_active, maker_role, maker_practitioner_id):
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
        Appointment.status != HELD,  # a hold is offered, not booked: calendars see it once accepted
    )


# Feed versions computed in this process, by feed id: (computed at, ETag, Last-Modified).
# Calendar apps poll every 15 min to a few hours, mostly for an unchanged feed; the version
# is an aggregate over the whole window, so it is kept for VERSION_TTL. A change made in this
# process clears it at once (see forget_feed_versions); one made by another app server shows
# within VERSION_TTL, which no subscriber can notice at their polling rates.
VERSION_TTL = timedelta(seconds=15)
_versions: dict[int, tuple[datetime, str, datetime | None]] = {}
_versions_lock = threading.Lock()


def forget_feed_versions() -> None:
    """Drop every cached feed version (called whenever appointments change here)."""
    with _versions_lock:
        _versions.clear()


@event.listens_for(Session, "after_flush")
def _appointments_changed(session: Session, _context) -> None:
    """Any appointment, treatment, prep or aftercare rule written in this process makes every
    cached feed version stale."""
    if any(isinstance(obj, (Appointment, Treatment, PrepRule, AftercareRule))
           for obj in (*session.new, *session.dirty, *session.deleted)):
        forget_feed_versions()


def feed_version(feed: FeedToken, now: datetime | None = None) -> tuple[str, datetime | None]:
    """An ETag and Last-Modified for the feed (cached for ``VERSION_TTL``; no feed is built)."""
    now = now or utcnow()
    with _versions_lock:
        cached = _versions.get(feed.id)
    if cached is not None and now - cached[0] < VERSION_TTL:
        return cached[1], cached[2]
    etag, last = _compute_version(feed, now)
    with _versions_lock:
        _versions[feed.id] = (now, etag, last)
    return etag, last


def _compute_version(feed: FeedToken, now: datetime) -> tuple[str, datetime | None]:
    """The version from one aggregate query over the feed's window.

    It changes when any appointment in the feed changes, appears or leaves the window, and
    when the clinic's settings (name, discretion), its rules (treatment names, prep steps),
    the reader's language or the day (the window moves) change.
    """
    count, last, ids = db.session.execute(
        select(func.count(Appointment.id), func.max(Appointment.updated_at), func.sum(Appointment.id))
        .where(_window(feed, now))
    ).one()
    settings = get_settings()
    if isinstance(last, str):  # aggregates bypass the column type on SQLite
        last = datetime.fromisoformat(last).replace(tzinfo=now.tzinfo)
    elif last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    key = (f"{feed.id}:{count}:{ids}:{last}:{settings.name}:{settings.show_treatment_in_invites}:{now.date()}"
           f":{reader_locale(feed_reader(feed), settings)}")  # its reader chose another language
    # Treatment names (and their translations) and a patient's prep events change with the
    # clinic's rules; every write to a rule row renews the rules stamp in the same transaction
    # (services.rule_cache), so the stamp is part of every feed's version.
    key += f":{settings.rules_version}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], last


class _FetchedTime(UTCDateTime):
    """``UTCDateTime`` read without its per-value hop where the driver's value is already right.

    PostgreSQL sessions run in UTC (``booking.database``), so psycopg returns aware UTC
    datetimes and ``process_result_value`` hands them back unchanged: two Python calls per
    value, 40,000 for a 10,000-event feed. (Were a session in another zone, the values would
    still be aware and the feed text the same.) SQLite keeps the conversion (its values are naive).
    """

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object):
        """None (no processing) on PostgreSQL; the usual conversion elsewhere."""
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


def _time(column: QueryableAttribute[datetime]) -> TypeCoerce[datetime]:
    """``column`` read as a ``_FetchedTime`` (same SQL)."""
    return type_coerce(column, _FetchedTime())


def feed_events(feed: FeedToken, now: datetime | None = None) -> list[FeedEvent]:
    """The feed's appointments as plain values, in one query whose columns are ``FeedEvent``'s
    fields in order (no ORM objects: a clinic feed can hold thousands of them). It runs as Core on
    the session's connection: the ORM's handling of a column query's rows cost ~10 ms more."""
    now = now or utcnow()
    patient = aliased(User)
    practitioner_user = aliased(User)
    statement = (
        select(
            Appointment.ical_uid, Appointment.ical_sequence, _time(Appointment.created_at),
            _time(Appointment.updated_at), _time(Appointment.start_at), _time(Appointment.end_at),
            Appointment.status == "cancelled", patient.name, Appointment.treatment_id, Treatment.name,
            Appointment.series_index, case((Appointment.series_index.is_not(None), Protocol.sessions)),
            Room.name, practitioner_user.name, Appointment.status == "completed",
        )
        .join(patient, patient.id == Appointment.patient_id)
        .join(Treatment, Treatment.id == Appointment.treatment_id)
        .outerjoin(Protocol, Protocol.treatment_id == Treatment.id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(practitioner_user, practitioner_user.id == Practitioner.user_id)
        .where(_window(feed, now))
        .order_by(Appointment.start_at, Appointment.id)
    )
    rows = db.session.connection().execute(statement)
    # A chunk at a time: all() kept 10,000 Row objects alive at once, long enough for the garbage
    # collector to promote them and run a full collection every other build; iterating the result
    # row by row costs a driver call per row.
    return [FeedEvent._make(row) for chunk in rows.partitions(1000) for row in chunk]


# The audit action of a change to a prep rule's text or lead time (services.catalog_admin): the
# number of them is the rule's version, raising its feed events' SEQUENCE with no extra column.
PREP_RULE_CHANGED = "catalog.prep_rule_changed"


def _prep_rule_version():
    """Per prep rule: how many times its content has changed (a correlated count)."""
    return (
        select(func.count(AuditEvent.id))
        .where(AuditEvent.action == PREP_RULE_CHANGED, AuditEvent.entity_type == "prep_rule",
               AuditEvent.entity_id == PrepRule.id)
        .correlate(PrepRule)
        .scalar_subquery()
    )


def prep_steps_by_treatment(treatment_ids: set[int]) -> dict[int, tuple[FeedPrep, ...]]:
    """Each treatment's prep steps with their rule's id and version, for a patient feed's
    all-day events (the instruction in the current language: the rows, not the column)."""
    steps: dict[int, list[FeedPrep]] = {t: [] for t in treatment_ids}
    if treatment_ids:
        for treatment_id, rule, version in db.session.execute(
            select(Protocol.treatment_id, PrepRule, _prep_rule_version())
            .join(PrepRule, PrepRule.protocol_id == Protocol.id)
            .where(Protocol.treatment_id.in_(treatment_ids))
            .order_by(Protocol.treatment_id, PrepRule.lead_hours.desc(), PrepRule.id)
        ):
            steps[treatment_id].append(FeedPrep(rule.id, rule.instruction, rule.lead_hours, version))
    return {t: tuple(s) for t, s in steps.items()}


def aftercare_by_treatment(treatment_ids: set[int]) -> dict[int, tuple[FeedAftercare, ...]]:
    """Each treatment's aftercare steps, for a patient feed's all-day events after a session."""
    steps: dict[int, list[FeedAftercare]] = {t: [] for t in treatment_ids}
    if treatment_ids:
        for treatment_id, rule in db.session.execute(
            select(Protocol.treatment_id, AftercareRule)
            .join(AftercareRule, AftercareRule.protocol_id == Protocol.id)
            .where(Protocol.treatment_id.in_(treatment_ids))
            .order_by(Protocol.treatment_id, AftercareRule.hours, AftercareRule.id)
        ):
            steps[treatment_id].append(FeedAftercare(rule.id, rule.instruction, rule.hours))
    return {t: tuple(s) for t, s in steps.items()}


def treatment_names(treatment_ids: set[int]) -> dict[int, str]:
    """Each treatment's name in the current language (the feed query reads the default column)."""
    if not treatment_ids:
        return {}
    return {t.id: t.name for t in db.session.scalars(select(Treatment).where(Treatment.id.in_(treatment_ids)))}


def feed_name(feed: FeedToken) -> str:
    """X-WR-CALNAME: "Villa Rosa · Dr Giulia Bianchi", in the current language."""
    clinic = get_settings().name
    if feed.scope == "practitioner":
        practitioner = db.session.get(Practitioner, feed.target_id)
        return f"{clinic} · {practitioner.name if practitioner else gettext('practitioner')}"
    if feed.scope == "room":
        room = db.session.get(Room, feed.target_id)
        return f"{clinic} · {room.name if room else gettext('room')}"
    if feed.scope == "patient":
        patient = db.session.get(User, feed.target_id)
        return gettext("%(clinic)s · my appointments", clinic=clinic) if patient else clinic
    return gettext("%(clinic)s · all appointments", clinic=clinic)


def feed_reader(feed: FeedToken) -> User | None:
    """Whose language a feed is in: the patient of a patient feed, the practitioner of a
    practitioner feed; None (the clinic's default language) for a room or the whole clinic."""
    if feed.scope == "patient":
        return db.session.get(User, feed.target_id)
    if feed.scope == "practitioner":
        practitioner = db.session.get(Practitioner, feed.target_id)
        return practitioner.user if practitioner is not None else None
    return None


def feed_body(feed: FeedToken, now: datetime | None = None) -> bytes:
    """The whole feed, in its reader's language (``feed_reader``)."""
    settings = get_settings()
    with written_for(feed_reader(feed), settings):
        events = feed_events(feed, now)
        spec = FeedSpec(name=feed_name(feed), for_patient=feed.scope == "patient")
        treatments = {e.treatment_id for e in events}
        steps = prep_steps_by_treatment(treatments) if spec.for_patient else None
        aftercare = (aftercare_by_treatment({e.treatment_id for e in events if e.completed})
                     if spec.for_patient else None)
        return build_feed(spec, events, settings, steps, aftercare, treatment_names(treatments))
