"""Role checks for web views, and the safe ``next`` redirect."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort
from flask_babel import gettext
from flask_login import current_user, login_required

from booking.services.actor import Actor


def roles_required(*roles: str) -> Callable:
    """Signed in (else redirect to sign-in) and one of ``roles`` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if current_user.role not in roles:
                abort(403, description=gettext("Your account cannot open this page."))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def current_actor() -> Actor:
    """The signed-in user as a use-case actor."""
    return Actor.of(current_user)


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default  # a line break would split the Location header (and no real path has one)
    return target
