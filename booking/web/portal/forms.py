"""Forms of the portal pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField


class NewFeedForm(FlaskForm):
    """Which calendar to subscribe to (patients have only their own)."""

    target = SelectField("Calendar", choices=[])


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token."""
