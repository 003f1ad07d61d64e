"""Reading the clinic's settings."""

from __future__ import annotations

from booking.extensions import db
from booking.models import ClinicSettings


def default_settings() -> ClinicSettings:
    """An unsaved settings row holding every column default."""
    values = {
        column.key: column.default.arg
        for column in ClinicSettings.__table__.columns
        if column.default is not None and column.default.is_scalar
    }
    return ClinicSettings(**values)


def get_settings() -> ClinicSettings:
    """The clinic's settings row, or the defaults when the clinic is not set up yet."""
    settings = db.session.get(ClinicSettings, 1)
    return settings if settings is not None else default_settings()
