"""How the HTML blueprints answer a use case's refusal, in one place per blueprint.

A service raises ``ServiceError`` (``RuleViolation`` with its problems) when it will not do what
was asked. Each HTML blueprint installs ``handle_refusals`` once; its handler rolls the
session back (nothing the refused use case wrote may stay, and the next query must not run in a
failed transaction), then answers:

1. with the page the view named for this request (``refusal_page``): a form shown again with
   its input, the calendar's JSON for the override dialog, the wizard's "taken meanwhile" page;
2. else, for something that does not exist (or is not the caller's), the 404 page;
3. else, for a page read, the error page with the refusal's status;
4. else (a form post) with the message flashed and a redirect back: to the form's ``next``
   field, the referring page of this site, the same address when it is a page, or the
   blueprint's natural page.

So views call their service and handle only success; ``except ServiceError`` in a view is
left for turning a lookup into a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, default_exceptions

from booking.extensions import db
from booking.i18n import translate
from booking.services.errors import NotFound, ServiceError
from booking.web.access import safe_next

Page = Callable[[ServiceError], ResponseReturnValue]
_ANSWER = "booking.refusal_page"  # per request, in the WSGI environ (``g`` can outlive a request in tests)


def plain_message(error: ServiceError) -> str:
    """The refusal's own message (in the request's language: ``ServiceError.message``)."""
    return error.message


def refusal_page(page: Page, *, announce: bool = True) -> None:
    """Answer a refusal during this request with ``page(error)``, after the rollback; with
    ``announce`` the blueprint's message is flashed first (a page that shows the problems itself
    passes False)."""
    request.environ[_ANSWER] = (page, announce)


def handle_refusals(
    bp: Blueprint, *, home: str | Callable[[], str], describe: Callable[[ServiceError], str] = plain_message,
) -> None:
    """Install ``bp``'s one handler of ``ServiceError``. ``home`` is the endpoint (or a function
    giving the URL) a refused form post falls back to; ``describe`` words the flashed message."""

    @bp.errorhandler(ServiceError)
    def refused(error: ServiceError) -> ResponseReturnValue:
        db.session.rollback()
        answer = request.environ.pop(_ANSWER, None)
        if answer is not None:
            page, announce = answer
            if announce:
                flash(translate(describe(error)), "error")
            return page(error)
        if isinstance(error, NotFound):
            return _error_page(404, error.message)
        if request.method in ("GET", "HEAD"):
            return _error_page(error.status, error.message)
        flash(translate(describe(error)), "error")
        return redirect(_back(home))


def _error_page(status: int, message: str) -> ResponseReturnValue:
    """The app's page for an HTTP error, saying what the service said."""
    exception = default_exceptions.get(status, BadRequest)(description=message)
    return current_app.handle_http_exception(exception)


def _back(home: str | Callable[[], str]) -> str:
    """Where a refused form post goes back to (never off-site)."""
    fallback = home() if callable(home) else url_for(home)
    rule = request.url_rule
    if rule is not None and rule.methods is not None and "GET" in rule.methods:
        fallback = request.full_path.rstrip("?")  # the form's own page
    return safe_next(request.form.get("next"), "") or _referrer() or fallback


def _referrer() -> str:
    """The referring page when it is on this site, as a path; else ""."""
    parts = urlsplit(request.referrer or "")
    if not parts.path or parts.netloc != request.host:
        return ""
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), "")
