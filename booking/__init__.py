"""The clinic booking application: ``create_app`` builds and wires it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext
from flask_openapi3 import Info, OpenAPI
from werkzeug.exceptions import HTTPException

from booking.extensions import csrf, db, limiter, login_manager, migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: str | type | None = None, **overrides: Any) -> Flask:
    """Build the app from a config name (``development``, ``testing``, ``production``; default
    ``$BOOKING_CONFIG`` or development) or a config class, then apply ``overrides``."""
    from config import CONFIGS, INSTANCE_DIR, ProductionConfig

    from booking.web.api import SECURITY_SCHEMES, validation_error

    # OpenAPI is a Flask subclass that generates /api/v1/openapi.json from the API's schemas.
    app = OpenAPI(
        __name__,
        info=Info(title="Clinic booking API", version="1"),
        security_schemes=SECURITY_SCHEMES,
        doc_prefix="/api/v1",
        doc_url="/openapi.json",
        validation_error_status=400,
        validation_error_callback=validation_error,
        instance_path=str(INSTANCE_DIR),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    name = config if isinstance(config, str) else os.environ.get("BOOKING_CONFIG", "development")
    if isinstance(config, type):
        app.config.from_object(config)
    else:
        if name not in CONFIGS:
            raise RuntimeError(f"Unknown configuration {name!r}; use one of {sorted(CONFIGS)}")
        config_class = CONFIGS[name]
        app.config.from_object(config_class)
        if config_class is ProductionConfig:
            app.config.update(ProductionConfig.from_environment())
    app.config.update(overrides)
    app.config["BOOKING_ENV"] = name if not isinstance(config, type) else config.__name__

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        from config import instance_secret_key

        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
    from booking.models.people import password_hash_method

    password_hash_method["method"] = app.config["PASSWORD_HASH_METHOD"]
    register_extensions(app)
    register_security_headers(app)
    register_mail(app)
    register_template_helpers(app)
    from booking.i18n import register_i18n

    register_i18n(app)  # issue 16: Flask-Babel, the language of each request, locale-aware filters
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions to ``app`` and set up the database engine."""
    from booking.database import configure_engine
    from booking import models  # noqa: F401  (registers the tables for Alembic)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    from booking.services import rule_cache

    rule_cache.install()  # writes to rule rows renew the stamp every process keeps its rules under

    @login_manager.user_loader
    def load_user(session_id: str) -> models.User | None:
        """The active user of a session or remember cookie that was not ended since (``User.get_id``)."""
        user_id, _, version = session_id.partition(":")
        if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 10:
            return None  # a cookie from before session versions, or not ours
        user = db.session.get(models.User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user


def register_security_headers(app: Flask) -> None:
    """Security headers on every answer (Flask-Talisman): the CSP from ``CONTENT_SECURITY_POLICY``
    (no inline script, ``frame-ancestors 'none'``), ``X-Frame-Options: DENY`` for older
    browsers, nosniff, the referrer policy, HSTS over HTTPS when ``SECURITY_HSTS`` (production);
    and ``Cache-Control: no-store`` on every dynamic answer."""
    from flask_talisman import Talisman

    Talisman(
        app,
        force_https=False,  # the proxy redirects http to https (docs/DEPLOY.md); tests run over http
        frame_options="DENY",
        content_security_policy=app.config["CONTENT_SECURITY_POLICY"],
        referrer_policy=app.config["REFERRER_POLICY"],
        strict_transport_security=app.config["SECURITY_HSTS"],
        strict_transport_security_max_age=app.config["SECURITY_HSTS_SECONDS"],
        strict_transport_security_include_subdomains=False,  # other hosts of the clinic's domain are not ours
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()"},
        # The cookie flags stay with config.py (Talisman would otherwise overwrite them).
        session_cookie_secure=False,
        session_cookie_http_only=False,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
    )

    @app.after_request
    def never_store(response):
        """Pages, downloads and API answers can show health data, a feed secret or a CSRF token
        tied to the session: no browser or proxy keeps them. Static files and calendar feeds
        (which set their own revalidation headers) are left alone."""
        if request.endpoint != "static" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


def register_mail(app: Flask) -> None:
    """Write mail from ``templates/mail`` with links to ``BASE_URL`` (services queue it with no
    Flask globals; see ``booking.mail.rendering``). In development only, the serving process also
    delivers mail in the background and links follow the address it is served on
    (``booking.devmail``)."""
    from booking import devmail
    from booking.mail import rendering

    rendering.install(rendering.MailRenderer(app.config["BASE_URL"], Path(ROOT) / "templates"))
    devmail.register(app)


def register_template_helpers(app: Flask) -> None:
    """Make the plain-words protocol descriptions available to every template."""
    from booking import protocol_text

    from booking.scheduling.clock import to_local
    from booking.services.clinic import get_settings

    def local_day(moment) -> str:
        """The clinic's calendar day of a UTC datetime, ISO (for links; people read ``|when``)."""
        return to_local(moment, get_settings().timezone).date().isoformat() if moment else ""

    from booking.i18n import price as money  # Babel's format_currency, the clinic's currency (issue 16)

    app.jinja_env.filters["local_day"] = local_day
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals.update(
        describe_series=protocol_text.describe_series,
        describe_prep=protocol_text.describe_prep,
        describe_rules=protocol_text.describe_rules,
        describe_lead=protocol_text.lead_time,
    )


def register_blueprints(app: Flask) -> None:
    """Mount the web blueprints."""
    from booking.web.api import api
    from booking.web.auth import bp as auth_bp
    from booking.web.book import bp as book_bp
    from booking.web.course import bp as course_bp
    from booking.web.offers import bp as offers_bp
    from booking.web.feeds import bp as feeds_bp
    from booking.web.portal import bp as portal_bp
    from booking.web.public import bp as public_bp
    from booking.web.staff import bp as staff_bp
    from booking.web.reception import bp as reception_bp
    from booking.web.admin import bp as admin_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(book_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(course_bp)
    app.register_blueprint(offers_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(reception_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(feeds_bp)
    app.register_api(api)


def wants_json() -> bool:
    """True for API calls and clients that ask for JSON."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


# What a caller reads when the app failed (a page, or a JSON 500), in their language.
UNEXPECTED_ERROR = lazy_gettext("Something went wrong on our side; nothing was changed. Please try again.")


def error_body(code: str, message: str, problems: list[dict[str, Any]] | None = None) -> dict:
    """The JSON error body of the API contract."""
    error: dict[str, Any] = {"code": code, "message": message}
    if problems is not None:
        error["problems"] = problems
    return {"error": error}


def register_errorhandlers(app: Flask) -> None:
    """Answer HTTP errors as JSON for the API and as a page for browsers; never a bare 500."""

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # e.g. Allow on 405
        if wants_json():
            from booking.web.api import http_error_message  # the message in the caller's language (issue 16)

            return jsonify(error_body(code, http_error_message(exc))), exc.code, headers
        return render_template("error.html", error=exc), exc.code, headers

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        message = str(UNEXPECTED_ERROR)
        if wants_json():
            return jsonify(error_body("internal_error", message)), 500
        return render_template("error.html", error=None, message=message), 500


def register_commands(app: Flask) -> None:
    """Add the ``flask`` commands (seed-demo, users, outbox, reminders)."""
    from booking.cli import register

    register(app)
