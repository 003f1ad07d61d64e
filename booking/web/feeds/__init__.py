"""Calendar subscription feeds at ``/feeds/<secret>.ics`` (no login: the secret is the key)."""

from __future__ import annotations

from email.utils import format_datetime

from flask import Blueprint, Response, abort, request
from flask_babel import gettext

from booking.extensions import db
from booking.services import feeds

bp = Blueprint("feeds", __name__)


@bp.route("/feeds/<secret>.ics", methods=["GET", "HEAD"])
def feed(secret: str) -> Response:
    """The feed, or 304 when the client's copy is current; 404 for unknown or revoked secrets."""
    if not db.session().in_transaction() and db.session.get_bind().dialect.name == "postgresql":
        # Only reads (and the once-a-minute last-used stamp, its own transaction): without
        # BEGIN and ROLLBACK a 304 is one round trip after the pool's liveness check, not three.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    token = feeds.find_feed(secret)
    if token is None:
        abort(404, description=gettext("This calendar link is unknown or was revoked; ask the clinic for a new one."))
    etag, last_modified = feeds.feed_version(token)
    headers = {
        "ETag": f'"{etag}"',
        # no-transform: Outlook breaks on compressed subscriptions, so proxies must not gzip.
        "Cache-Control": "private, max-age=0, must-revalidate, no-transform",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if request.if_none_match.contains(etag) or (
        not request.if_none_match and last_modified is not None and request.if_modified_since is not None
        and last_modified.replace(microsecond=0) <= request.if_modified_since
    ):
        return Response(status=304, headers=headers)
    body = feeds.feed_body(token)  # in the language of whose feed it is, not the fetching app's
    return Response(body, status=200, headers=headers, content_type="text/calendar; charset=utf-8")
