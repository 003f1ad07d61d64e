"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from flask.wrappers import Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from booking.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Counters live in RATELIMIT_STORAGE_URI: Redis in production, so every worker and server
# counts together (docs/DEPLOY.md, section 5); memory:// is per process, for development.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def sign_in_failed(response: Response) -> bool:
    """Whether a sign-in attempt counts against the limits: only when it did not succeed (a
    success answers 302 on the web and 201 from ``POST /api/v1/tokens``), so a whole office
    signing in from one address is never refused."""
    return response.status_code not in (201, 302)


def sign_in_account() -> str:
    """The limit key of the account a sign-in is for: its e-mail (form or JSON), normalised and
    hashed, so the counter store holds no addresses."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if hasattr(body, "get") else None
    normalised = email.strip().lower() if isinstance(email, str) else ""
    return "account:" + hashlib.sha256(normalised.encode()).hexdigest()


def sign_in_limits(methods: list[str] | None = None) -> Callable:
    """Limit failed sign-ins per client address (``RATELIMIT_LOGIN``) and per account
    (``RATELIMIT_LOGIN_ACCOUNT``), shared by the web sign-in and ``POST /api/v1/tokens``."""
    per_address = limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN"], scope="sign-in-address",
                                       methods=methods, deduct_when=sign_in_failed)
    per_account = limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
                                       scope="sign-in-account", key_func=sign_in_account, methods=methods,
                                       deduct_when=sign_in_failed)

    def decorate(view: Callable) -> Callable:
        return per_address(per_account(view))

    return decorate
