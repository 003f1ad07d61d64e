"""Administration of calendar subscription links: every feed, who made it, and revoking it."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from booking.services import feed_links
from booking.services.clinic import get_settings
from booking.web.access import current_actor, roles_required
from booking.web.admin import bp
from booking.web.admin.forms import ConfirmForm


@bp.route("/feeds")
@roles_required("admin")
def feeds():
    """Every feed: maker, calendar, created, last used, and whether it still answers."""
    return render_template("admin/feeds.html", clinic=get_settings(), rows=feed_links.every_feed(),
                           form=ConfirmForm())


@bp.route("/feeds/<int(max=2147483647):feed_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke_feed(feed_id: int):
    """Revoke one feed (audited); calendars using it stop updating."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.feeds"))
    feed_links.revoke_feed(current_actor(), feed_id)
    flash(_("The link is revoked: calendars using it stop updating."), "info")
    return redirect(url_for("admin.feeds"))
