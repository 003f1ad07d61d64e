"""Which subscription links a user has and may create."""

from __future__ import annotations

from sqlalchemy import or_, select

from booking.extensions import db
from booking.models import FeedToken, Practitioner, Room
from booking.services.actor import Actor


def feed_choices(actor: Actor) -> list[tuple[str, str]]:
    """(value, label) of every calendar ``actor`` may subscribe to; value is "scope:id"."""
    if actor.is_patient:
        return [(f"patient:{actor.user_id}", "My appointments")]
    choices = []
    own = db.session.scalar(select(Practitioner).where(Practitioner.user_id == actor.user_id))
    if own is not None:
        choices.append((f"practitioner:{own.id}", f"My diary ({own.name})"))
    choices.append(("clinic:", "The whole clinic"))
    for practitioner in db.session.scalars(select(Practitioner).where(Practitioner.active.is_(True)).order_by(Practitioner.id)):
        if own is None or practitioner.id != own.id:
            choices.append((f"practitioner:{practitioner.id}", f"Practitioner: {practitioner.name}"))
    for room in db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.id)):
        choices.append((f"room:{room.id}", f"Room: {room.name}"))
    return choices


def parse_choice(value: str) -> tuple[str, int | None]:
    """"practitioner:3" -> ("practitioner", 3); "clinic:" -> ("clinic", None)."""
    scope, _, target = value.partition(":")
    return scope, int(target) if target else None


def feeds_of(actor: Actor) -> list[FeedToken]:
    """The user's live subscription links (a patient's own, or the ones a staff member made)."""
    query = select(FeedToken).where(FeedToken.revoked_at.is_(None)).order_by(FeedToken.created_at.desc())
    if actor.is_patient:
        query = query.where(FeedToken.scope == "patient", FeedToken.target_id == actor.user_id)
    else:
        query = query.where(or_(FeedToken.created_by_id == actor.user_id))
    return list(db.session.scalars(query))


def describe(feed: FeedToken) -> str:
    """A human name for a feed link."""
    if feed.scope == "practitioner":
        practitioner = db.session.get(Practitioner, feed.target_id)
        return f"Practitioner: {practitioner.name}" if practitioner else "Practitioner"
    if feed.scope == "room":
        room = db.session.get(Room, feed.target_id)
        return f"Room: {room.name}" if room else "Room"
    return "My appointments" if feed.scope == "patient" else "The whole clinic"
