"""Views of the public pages."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Protocol, Treatment
from booking.services.clinic import get_settings
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


@bp.route("/healthz")
def healthz() -> tuple[dict, int]:
    """Liveness and database check for load balancers."""
    try:
        db.session.execute(select(1))
    except Exception as exc:  # the point is to report any database failure as unhealthy
        return {"status": "error", "database": str(exc.__class__.__name__)}, 503
    return {"status": "ok", "database": "ok"}, 200
