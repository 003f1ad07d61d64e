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


_SESSION_KEY = "clinic_settings"


def get_settings() -> ClinicSettings:
    """The clinic's settings row, or the defaults when the clinic is not set up yet.

    The row is kept in the session's ``info`` for the session's life: the identity map holds
    objects only weakly, so without that reference a caller that formats thousands of times
    (every free slot in the clinic's offset) would run one SELECT each time.
    """
    session = db.session()
    cached = session.info.get(_SESSION_KEY)
    if cached is not None and cached in session:
        return cached
    settings = session.get(ClinicSettings, 1)
    if settings is None:
        return default_settings()
    session.info[_SESSION_KEY] = settings
    return settings
