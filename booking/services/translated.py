"""Texts the clinic writes in more than one language (issue 16): treatment names and
descriptions, prep and aftercare steps, and the clinic's own words for patients (a welcome on
the home page, a note after booking).

The plain columns hold the clinic's default language; ``translations`` the others (see
``booking.models.catalog.Translated``). These helpers check and set the others; an empty text
removes a translation, so readers fall back to the default language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import gettext

from booking.database import begin_write
from booking.extensions import db
from booking.i18n import supported
from booking.models import AftercareRule, ClinicSettings, PrepRule
from booking.models.catalog import Translated
from booking.services import audit
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest, NotFound
from booking.services.schedule_admin import require_admin

CLINIC_TEXTS = ("welcome_text", "booking_note")


def other_languages() -> list[str]:
    """The languages the app speaks other than the clinic's default: those the clinic may
    write its texts in besides the default ones."""
    default = get_settings().default_locale
    return [code for code in supported() if code != default]


def step_key(step: PrepRule | AftercareRule) -> str:
    """A prep or aftercare step's key in ``step_translations`` ("prep-3", "aftercare-5")."""
    return f"{'prep' if isinstance(step, PrepRule) else 'aftercare'}-{step.id}"


def check_language(language: str) -> None:
    """InvalidRequest for a language the app does not speak."""
    if language not in supported():
        raise InvalidRequest(gettext("Choose a language the app speaks: %(codes)s.", codes=", ".join(supported())),
                             code="unknown_language")


def apply_translations(row: Translated, translations: Mapping[str, Mapping[str, str | None]]) -> None:
    """Set ``row``'s texts per language ({"it": {"name": ..., "description": ...}})."""
    for language, texts in translations.items():
        check_language(language)
        unknown = set(texts) - set(row.TRANSLATED_FIELDS)
        if unknown:
            raise InvalidRequest(gettext("There is no text called %(names)s to translate.",
                                         names=", ".join(sorted(unknown))), code="unknown_text")
        row.set_translation(language, **texts)


def apply_step_translations(steps: Iterable[PrepRule | AftercareRule],
                            step_translations: Mapping[str, Mapping[str, str | None]]) -> None:
    """Set the instructions of a treatment's steps per language ({"prep-3": {"it": ...}})."""
    by_key = {step_key(step): step for step in steps}
    for key, texts in step_translations.items():
        step = by_key.get(key)
        if step is None:
            raise InvalidRequest(gettext("That prep or aftercare step no longer exists; reload the page."),
                                 code="unknown_step")
        apply_translations(step, {language: {"instruction": text} for language, text in texts.items()})


def save_clinic_texts(actor: Actor, *, texts: Mapping[str, str | None],
                      translations: Mapping[str, Mapping[str, str | None]]) -> ClinicSettings:
    """The clinic's welcome and after-booking note in its default language (``texts``) and in
    others (``translations``); audited as a settings change."""
    require_admin(actor)
    begin_write(db.session)
    settings = db.session.get(ClinicSettings, 1)
    if settings is None:
        raise NotFound(gettext("Save the clinic's settings first."))
    before = _snapshot(settings)
    for name in CLINIC_TEXTS:
        if name in texts:
            setattr(settings, f"{name}_default", (texts[name] or "").replace("\r\n", "\n").strip())
    apply_translations(settings, translations)
    after = _snapshot(settings)
    if after != before:
        audit.record("settings.changed", actor_id=actor.user_id, entity_type="clinic_settings", entity_id=1,
                     before=before, after=after)
    db.session.commit()
    return settings


def _snapshot(settings: ClinicSettings) -> dict:
    """The clinic's texts, for the audit."""
    return {**{name: settings.default_text(name) for name in CLINIC_TEXTS},
            "translations": {lang: dict(texts) for lang, texts in (settings.translations or {}).items()}}
