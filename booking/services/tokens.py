"""API tokens and sign-in: issued once, stored hashed, revocable (feed links: ``feed_links``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import select, update

from booking.database import begin_write
from booking.extensions import db
from booking.models import User
from booking.models.access import ApiToken, hash_secret, new_secret
from booking.models.base import utcnow
from booking.models.people import password_matches_nobody
from booking.services.errors import ServiceError


class BadCredentials(ServiceError):
    """Wrong e-mail or password (401)."""

    status = 401
    code = "invalid_credentials"


def authenticate(email: str, password: str) -> User | None:
    """The active account with this e-mail and password, or None.

    Every answer costs one password-hash check (against a throwaway hash when there is no such
    account), so how long it takes does not tell whether an e-mail has an account here.
    """
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        password_matches_nobody(password)
        return None
    return user if user.check_password(password) and user.active else None


def end_all_sessions(user: User) -> None:
    """End every way the user is signed in: browser sessions, remember cookies and API tokens.

    Part of the caller's transaction (a password change or reset, an erasure); the caller commits.
    """
    user.end_sessions()
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def sign_out(user_id: int) -> None:
    """End the user's browser sessions and remember cookies (API tokens stay: they are revoked
    one by one with ``DELETE /api/v1/tokens``, or all together by a new password)."""
    begin_write(db.session)
    user = db.session.get(User, user_id)
    if user is not None:
        user.end_sessions()
        db.session.commit()


def issue_api_token(email: str, password: str, lifetime_hours: int) -> tuple[str, ApiToken]:
    """A new bearer token for valid credentials; the secret is returned once, only its hash kept."""
    begin_write(db.session)
    user = authenticate(email, password)
    if user is None:
        raise BadCredentials(gettext("Wrong e-mail or password."))
    secret = new_secret()
    token = ApiToken(user_id=user.id, token_hash=hash_secret(secret),
                     expires_at=utcnow() + timedelta(hours=lifetime_hours))
    db.session.add(token)
    db.session.commit()
    return secret, token


def user_for_api_token(secret: str, now: datetime | None = None) -> User | None:
    """The active user a valid, unexpired, unrevoked token belongs to; records its use."""
    now = now or utcnow()
    found = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret))
    ).first()
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or token.expires_at <= now or not user.active:
        return None
    # Touch last-used at most once a minute, so reads do not turn into writes on every call.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        touch(ApiToken, token.id, now)
    return user


def touch(model, row_id: int, now: datetime) -> None:
    """Set ``last_used_at`` in a transaction of its own that starts with the write.

    On SQLite a transaction that read first cannot always upgrade to a write while another
    connection writes; one that starts with the UPDATE simply waits its turn.
    """
    db.session.commit()
    db.session.execute(update(model).where(model.id == row_id).values(last_used_at=now))
    db.session.commit()


def revoke_api_token(secret: str) -> bool:
    """Revoke a token by its secret; True if one was revoked."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.session.commit()
    return True
