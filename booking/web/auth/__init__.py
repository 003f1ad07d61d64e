"""Signing in and out."""

from flask import Blueprint

from booking.web.refusals import handle_refusals

bp = Blueprint("auth", __name__)
handle_refusals(bp, home="auth.login")

from booking.web.auth import routes  # noqa: E402,F401
