"""Views of the public pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Protocol, Treatment
from booking.services.clinic import get_settings
from booking.i18n import remember_choice, supported
from booking.web.access import safe_next
from booking.web.public import bp


@bp.route("/")
def home() -> str:
    """The clinic's treatments, each with its protocol in plain words."""
    treatments = db.session.scalars(
        select(Treatment)
        .where(Treatment.active.is_(True))
        .options(selectinload(Treatment.protocol).selectinload(Protocol.prep_rules))
        .order_by(Treatment.kind, Treatment.id)
    ).all()
    return render_template("public/home.html", treatments=treatments, clinic=get_settings())


@bp.route("/language/<code>")
def language(code: str):
    """The language switcher: use ``code`` from now on (saved for a signed-in user), and go back
    to the page the visitor was on (the Referer, when it is a page of this site). An unknown
    code changes nothing."""
    if code in supported():
        remember_choice(code)
    return redirect(safe_next(_same_site_path(request.referrer), url_for("public.home")))


def _same_site_path(referrer: str | None) -> str | None:
    """The path and query of ``referrer`` when it is on this site, else None."""
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.route("/healthz")
def healthz() -> tuple[dict, int]:
    """Liveness and database check for load balancers."""
    try:
        db.session.execute(select(1))
    except Exception as exc:  # the point is to report any database failure as unhealthy
        return {"status": "error", "database": str(exc.__class__.__name__)}, 503
    return {"status": "ok", "database": "ok"}, 200
