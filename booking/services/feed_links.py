"""Which subscription links a user has, may create and may revoke, and whether a link still
answers: a feed lives only as long as its maker could still make it (the roles table, see
``booking.web.roles``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from booking.database import begin_write
from booking.extensions import db
from booking.models import FeedToken, Practitioner, Room, User
from booking.models.access import FEED_SCOPES, hash_secret, new_secret
from booking.models.base import utcnow
from booking.services import audit
from booking.services.actor import Actor
from booking.services.errors import Forbidden, InvalidRequest, NotFound

FRONT_DESK = ("admin", "receptionist")


def may_share(role: str, user_id: int, practitioner_id: int | None, scope: str, target_id: int | None) -> bool:
    """Whether a user may hold a feed of ``scope``/``target_id``: patients their own appointments,
    practitioners their own diary, the front desk and admins any calendar."""
    if role in FRONT_DESK:
        return True
    if role == "patient":
        return scope == "patient" and target_id == user_id
    if role == "practitioner":
        return scope == "practitioner" and practitioner_id is not None and target_id == practitioner_id
    return False


def maker_may_share(feed: FeedToken, maker_active: bool | None, maker_role: str | None,
                    maker_practitioner_id: int | None) -> bool:
    """Whether the feed's maker (as they are now) could still make it; a feed whose maker was
    deactivated, erased (``created_by_id`` set NULL) or moved to a role that may not share this
    calendar answers like a revoked one. Checked at fetch time, so no cleanup job is needed."""
    if feed.created_by_id is None or not maker_active or maker_role is None:
        return False
    return may_share(maker_role, feed.created_by_id, maker_practitioner_id, feed.scope, feed.target_id)


def _own_practitioner_id(user_id: int) -> int | None:
    """The practitioner row of a user, if any."""
    return db.session.scalar(select(Practitioner.id).where(Practitioner.user_id == user_id))


def feed_choices(actor: Actor) -> list[tuple[str, str]]:
    """(value, label) of every calendar ``actor`` may subscribe to; value is "scope:id"."""
    if actor.is_patient:
        return [(f"patient:{actor.user_id}", gettext("My appointments"))]
    choices = []
    own = db.session.scalar(select(Practitioner).where(Practitioner.user_id == actor.user_id))
    if own is not None and may_share(actor.role, actor.user_id, own.id, "practitioner", own.id):
        choices.append((f"practitioner:{own.id}", gettext("My diary (%(name)s)", name=own.name)))
    if actor.role not in FRONT_DESK:
        return choices  # practitioners: their own diary only
    choices.append(("clinic:", gettext("The whole clinic")))
    practitioners = select(Practitioner).where(Practitioner.active.is_(True)).order_by(Practitioner.id)
    for practitioner in db.session.scalars(practitioners):
        if own is None or practitioner.id != own.id:
            choices.append((f"practitioner:{practitioner.id}",
                            gettext("Practitioner: %(name)s", name=practitioner.name)))
    for room in db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.id)):
        choices.append((f"room:{room.id}", gettext("Room: %(name)s", name=room.name)))
    return choices


def create_feed(actor: Actor, scope: str, target_id: int | None) -> tuple[str, FeedToken]:
    """A new secret feed URL token for ``scope``; the secret is returned once, only its hash kept.

    Patients subscribe to their own appointments, practitioners to their own diary (the target
    may be left out: it is theirs), the front desk and admins to any calendar.
    """
    begin_write(db.session)  # on SQLite the writer lock first: no "database is locked" half-way
    if scope not in FEED_SCOPES:
        raise InvalidRequest(gettext("scope must be one of %(scopes)s.", scopes=", ".join(FEED_SCOPES)), code="bad_scope")
    if actor.is_patient:
        if scope != "patient" or target_id not in (None, actor.user_id):
            raise Forbidden(gettext("Patients can subscribe to their own appointments only (scope patient)."))
        target_id = actor.user_id
    elif actor.role not in FRONT_DESK:
        own = _own_practitioner_id(actor.user_id)
        if own is None or actor.role != "practitioner" or scope != "practitioner" or target_id not in (None, own):
            raise Forbidden(gettext("Practitioners can subscribe to their own diary only (scope practitioner, "
                                    "id %(id)s).", id=own) if own else
                            gettext("Practitioners can subscribe to their own diary only (scope practitioner)."))
        target_id = own
    elif scope == "clinic":
        target_id = None
    else:
        model = {"practitioner": Practitioner, "room": Room, "patient": User}[scope]
        target = db.session.get(model, target_id) if target_id is not None else None
        if target is None or (scope == "patient" and target.role != "patient"):
            raise NotFound(gettext("There is no %(scope)s with id %(id)s.", scope=scope, id=target_id))
    secret = new_secret()
    feed = FeedToken(scope=scope, target_id=target_id, token_hash=hash_secret(secret), created_by_id=actor.user_id)
    db.session.add(feed)
    db.session.flush()
    audit.record("feed.created", actor_id=actor.user_id, entity_type="feed", entity_id=feed.id,
                 after={"scope": scope, "target_id": target_id})
    db.session.commit()
    return secret, feed


def revoke_feed(actor: Actor, feed_id: int) -> None:
    """Revoke a feed URL: its maker, an admin, or the patient whose appointments it shows.

    Anyone else's feed is a 404, the same answer as no feed at all (ids are sequential).
    """
    begin_write(db.session)
    feed = db.session.get(FeedToken, feed_id)
    if feed is None or not _may_revoke(actor, feed):
        raise NotFound(gettext("There is no feed %(id)s.", id=feed_id))
    if feed.revoked_at is None:
        feed.revoked_at = utcnow()
        audit.record("feed.revoked", actor_id=actor.user_id, entity_type="feed", entity_id=feed.id,
                     before={"scope": feed.scope, "target_id": feed.target_id, "created_by_id": feed.created_by_id})
        db.session.commit()


def _may_revoke(actor: Actor, feed: FeedToken) -> bool:
    """The maker, an admin, or the patient the feed is about."""
    if actor.role == "admin" or (feed.created_by_id is not None and feed.created_by_id == actor.user_id):
        return True
    return actor.is_patient and feed.scope == "patient" and feed.target_id == actor.user_id


def parse_choice(value: str) -> tuple[str, int | None]:
    """"practitioner:3" -> ("practitioner", 3); "clinic:" -> ("clinic", None)."""
    scope, _, target = value.partition(":")
    return scope, int(target) if target else None


def feeds_of(actor: Actor) -> list[FeedToken]:
    """The user's live subscription links (a patient's own, or the ones a staff member made)."""
    query = select(FeedToken).where(FeedToken.revoked_at.is_(None)).order_by(FeedToken.created_at.desc())
    if actor.is_patient:
        query = query.where(FeedToken.scope == "patient", FeedToken.target_id == actor.user_id)
        return list(db.session.scalars(query))
    # Staff: the ones they made and may still share (a feed dies with its maker's access).
    own = _own_practitioner_id(actor.user_id)
    query = query.where(FeedToken.created_by_id == actor.user_id)
    return [f for f in db.session.scalars(query) if may_share(actor.role, actor.user_id, own, f.scope, f.target_id)]


def describe(feed: FeedToken) -> str:
    """A human name for a feed link."""
    if feed.scope == "practitioner":
        practitioner = db.session.get(Practitioner, feed.target_id)
        return gettext("Practitioner: %(name)s", name=practitioner.name) if practitioner else gettext("Practitioner")
    if feed.scope == "room":
        room = db.session.get(Room, feed.target_id)
        return gettext("Room: %(name)s", name=room.name) if room else gettext("Room")
    return gettext("My appointments") if feed.scope == "patient" else gettext("The whole clinic")


@dataclass(frozen=True)
class FeedRow:
    """One feed as the admin's list shows it."""

    feed: FeedToken
    maker: str
    target: str
    created_at: datetime
    last_used_at: datetime | None
    state: str  # "live", "revoked" or "maker's access ended"


def every_feed() -> list[FeedRow]:
    """Every feed ever made, newest first, with its maker, its calendar and whether it answers."""
    rows = db.session.execute(
        select(FeedToken, User.name, User.active, User.role, Practitioner.id)
        .outerjoin(User, User.id == FeedToken.created_by_id)
        .outerjoin(Practitioner, Practitioner.user_id == User.id)
        .order_by(FeedToken.created_at.desc(), FeedToken.id.desc())
    ).all()
    out = []
    for feed, maker, active, role, practitioner_id in rows:
        if feed.revoked_at is not None:
            state = "revoked"
        elif maker_may_share(feed, active, role, practitioner_id):
            state = "live"
        else:
            state = "maker's access ended"
        made_by = gettext("%(name)s (%(role)s)", name=maker, role=_role_name(role)) if maker else gettext("(erased user)")
        out.append(FeedRow(feed, made_by, _target(feed),
                           feed.created_at, feed.last_used_at, state))
    return out


def _role_name(role: str | None) -> str:
    """A role as people read it, in the request's language."""
    names = {"admin": gettext("admin"), "receptionist": gettext("receptionist"),
             "practitioner": gettext("practitioner"), "patient": gettext("patient")}
    return names.get(role or "", role or "")


def _target(feed: FeedToken) -> str:
    """The calendar a feed shows, named for staff."""
    if feed.scope == "patient":
        patient = db.session.get(User, feed.target_id)
        return gettext("Patient: %(name)s", name=patient.name if patient else feed.target_id)
    if feed.scope == "clinic":
        return gettext("The whole clinic")
    return describe(feed)
