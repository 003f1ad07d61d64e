"""Public pages: the clinic's home page with its treatments."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from booking.web.public import routes  # noqa: E402,F401  (registers the views on bp)
