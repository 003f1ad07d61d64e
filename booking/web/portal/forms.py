"""Forms of the portal pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from booking.web.forms_base import SafeForm


class NewFeedForm(SafeForm):
    """Which calendar to subscribe to (patients have only their own)."""

    target = SelectField(_l("Calendar"), choices=[])


class ConfirmForm(SafeForm):
    """A button that needs only the CSRF token."""
