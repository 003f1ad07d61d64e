"""Public holidays as clinic closures: which days the clinic's country and region keep, from
the ``holidays`` package, and adding the ones not closed yet.

Each holiday becomes one all-day ``ClinicClosure`` in the clinic's time zone (its reason is the
holiday's name), written through the same code path as a closure the administrator types in
(``schedule_admin.close_clinic``), so it is audited the same way and stays editable and
removable like any other. Adding is idempotent: a day the clinic is already closed all day is
never closed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import holidays
from flask_babel import gettext, get_locale
from holidays import registry
from sqlalchemy import select

from booking.database import begin_write
from booking.extensions import db
from booking.models import ClinicClosure, ClinicSettings
from booking.scheduling.clock import local_day_bounds
from booking.services import schedule_admin
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest

# ISO code -> English name ("Italy"), the package's own registry: for a country Babel has no
# name for in the current language.
_COUNTRY_NAMES = {entry[1]: entry[0] for entry in registry.COUNTRIES.values()}


@dataclass(frozen=True)
class Holiday:
    """One public holiday: its local date, its name, and the UTC span of that whole day."""

    day: date
    name: str
    start: datetime
    end: datetime


def country_name(code: str) -> str:
    """``IT`` -> ``Italy`` in the current language ("Italia" in Italian); the code itself for one
    neither Babel nor the package knows."""
    locale = get_locale()
    return (locale.territories.get(code) if locale is not None else None) or _COUNTRY_NAMES.get(code, code)


def check_place(country: str, region: str = "") -> tuple[str, str]:
    """The clinic's country and region as the ``holidays`` package spells them, or
    ``InvalidRequest`` saying what to give. ``region`` may be empty (the country's national
    holidays only); it is matched without regard to case (``rm`` -> ``RM``)."""
    country = (country or "").strip().upper()
    region = (region or "").strip()
    supported = holidays.list_supported_countries()
    if country not in supported:
        message = (gettext("%(code)s is not a country code the public-holiday calendar knows; give a two-letter "
                           "ISO code such as IT, FR or DE.", code=country) if country else
                   gettext("An empty code is not a country code the public-holiday calendar knows; give a "
                           "two-letter ISO code such as IT, FR or DE."))
        raise InvalidRequest(message, code="unknown_country")
    if not region:
        return country, ""
    codes = {code.upper(): code for code in supported[country]}
    found = codes.get(region.upper())
    if found is None:
        sample = ", ".join(supported[country][:6])
        raise InvalidRequest(
            gettext("%(region)s is not a region of %(country)s in the public-holiday calendar; give one of its "
                    "codes (for example %(sample)s) or leave it empty.",
                    region=region, country=country_name(country), sample=sample), code="unknown_region")
    return country, found


def holiday_language(country: str, language: str) -> str | None:
    """The package's code for ``language`` in ``country``'s calendar ("it" -> "it_IT"), or None
    when it has no such translation (then its own default)."""
    supported = holidays.country_holidays(country).supported_languages
    return next((code for code in supported if code.split("_")[0] == language), None)


def public_holidays(settings: ClinicSettings, year: int) -> list[Holiday]:
    """The public holidays of ``year`` where the clinic is, in date order, named in the clinic's
    default language (a closure's reason is the clinic's own text, like one typed in admin)."""
    country, region = check_place(settings.country, settings.region)
    calendar = holidays.country_holidays(country, subdiv=region or None, years=year,
                                         language=holiday_language(country, settings.default_locale))
    found = []
    for day, name in sorted(calendar.items()):
        bounds = local_day_bounds(day, settings.timezone)
        found.append(Holiday(day, name, bounds.start, bounds.end))
    return found


def holidays_to_add(year: int) -> list[Holiday]:
    """The public holidays of ``year`` on which the clinic is not closed all day yet."""
    found = public_holidays(get_settings(), year)
    if not found:
        return []
    closures = db.session.scalars(
        select(ClinicClosure).where(ClinicClosure.end_at > found[0].start, ClinicClosure.start_at < found[-1].end)
        .order_by(ClinicClosure.start_at)
    ).all()
    spans = [(c.start_at, c.end_at) for c in closures]
    return [h for h in found if not _covered(h.start, h.end, spans)]


def write_public_holidays(actor: Actor, year: int) -> list[ClinicClosure]:
    """Close the clinic on each public holiday of ``year`` not closed yet, in the caller's
    transaction (each closure audited); returns the closures written."""
    schedule_admin.require_admin(actor)
    return [schedule_admin.close_clinic(actor, start=h.start, end=h.end, reason=h.name)
            for h in holidays_to_add(year)]


def add_public_holidays(actor: Actor, year: int) -> tuple[list[ClinicClosure], list[schedule_admin.Stranded]]:
    """Close the clinic on the public holidays of ``year`` in one transaction; returns the
    closures written and the booked appointments now inside a closure."""
    schedule_admin.require_admin(actor)
    if not 2000 <= year <= 2100:
        raise InvalidRequest(gettext("Choose a year between 2000 and 2100, not %(year)s.", year=year),
                             code="date_out_of_range")
    begin_write(db.session)
    written = write_public_holidays(actor, year)
    db.session.commit()
    return written, schedule_admin.stranded()


def _covered(start: datetime, end: datetime, spans: list[tuple[datetime, datetime]]) -> bool:
    """Whether ``spans`` (sorted by start) together cover all of ``[start, end)``."""
    reached = start
    for low, high in spans:
        if low > reached:
            break
        reached = max(reached, high)
        if reached >= end:
            return True
    return reached >= end
