"""Languages (issue 16): Flask-Babel, which language a request is answered in, and the
locale-aware formatting helpers templates use.

The language of a request, first that applies: ``?lang=it`` (remembered in the session, and
saved as the signed-in user's preference), the signed-in user's saved preference, a language the
browser asks for (``Accept-Language``) that the app speaks, the clinic's default language: an
English-speaking visitor of an Italian clinic reads English, a German one the clinic's Italian.
Babel formats in the clinic's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from babel import dates as babel_dates
from babel.numbers import get_currency_symbol
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import (Babel, format_currency, get_locale, get_timezone, gettext, lazy_gettext, ngettext,
                         refresh)
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.filters import do_join

from booking.scheduling.text import Day, Join, Moment, Text, Written

SESSION_KEY = "lang"
TRANSLATIONS = "translations"  # booking/translations/<locale>/LC_MESSAGES/messages.po

LANGUAGE_NAMES = {"en": "English", "it": "Italiano"}


def supported() -> tuple[str, ...]:
    """The languages the app has catalogs for (config ``LANGUAGES``; English alone without an app)."""
    return tuple(current_app.config.get("LANGUAGES", ("en",))) if has_app_context() else ("en",)


def reading_language() -> str | None:
    """The language texts are read and written in now: Flask-Babel's locale (which honours
    ``force_locale``, so mail written for a reader is in theirs), or None outside an app."""
    if not has_app_context():
        return None
    locale = get_locale()
    return locale.language if locale is not None else None


def _clinic_default() -> str | None:
    """The clinic's default language, when it is one we support."""
    from booking.services.clinic import get_settings

    value = getattr(get_settings(), "default_locale", None)
    return value if value in supported() else None


def select_locale() -> str:
    """The language of this request (the order in the module docstring). Outside a request (mail
    written by a worker or a command) the first supported language; a caller that knows the
    reader's language wraps the work in ``flask_babel.force_locale``."""
    languages = supported()
    if not has_request_context():
        return languages[0]
    if request.path.startswith("/api/"):
        return _api_locale(languages)
    if request and request.args.get("lang") in languages:
        return request.args["lang"]  # kept by remember_asked_language before the view ran
    if current_user and current_user.is_authenticated and getattr(current_user, "locale", None) in languages:
        return current_user.locale
    remembered = session.get(SESSION_KEY) if request else None
    if remembered in languages:
        return remembered
    if request:
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return _clinic_default() or languages[0]


def _api_locale(languages: tuple[str, ...]) -> str:
    """The language of an API answer: the ``Accept-Language`` header when it names a language we
    speak, else the caller's saved preference (token or session), else the clinic's default."""
    asked = request.accept_languages.best_match(languages)
    if asked:
        return asked
    saved = g.get("api_user_locale")
    if saved is None and current_user and current_user.is_authenticated:
        saved = getattr(current_user, "locale", None)
    if saved in languages:
        return saved
    return _clinic_default() or languages[0]


def remember_asked_language() -> None:
    """Before each request: forget the language Babel chose for an earlier request of the same
    app context (tests and CLI reuse one), and keep a ``?lang=`` choice."""
    refresh()
    asked = request.args.get("lang")
    if asked in supported():
        remember_choice(asked)


def remember_choice(locale: str) -> None:
    """Keep a visitor's choice in the session, and a signed-in user's as their preference (for
    next time, and for their mail)."""
    from booking.database import begin_write
    from booking.extensions import db

    session[SESSION_KEY] = locale
    if current_user and current_user.is_authenticated and getattr(current_user, "locale", None) != locale:
        begin_write(db.session)  # SQLite: the writer lock before the write, as every write use case
        current_user.locale = locale
        db.session.commit()


def select_timezone() -> str:
    """Babel formats dates and times in the clinic's time zone."""
    from booking.services.clinic import get_settings

    return get_settings().timezone or "UTC"


# --- messages of the rule book (booking.scheduling.text) ------------------------------------
def translate(value):
    """A :class:`Text` in the current language (its msgid from the catalog, its dates and times
    formatted by Babel); anything else unchanged. Outside an app there is no catalog: English."""
    if not isinstance(value, Text) or not has_app_context():
        return value
    params = {name: _translated(param) for name, param in value.params.items()}
    if value.plural is not None:
        params.pop("num", None)  # ngettext sets it from the count
        return ngettext(value.msgid, value.plural, value.n, **params)
    return gettext(value.msgid, **params)


def _translated(param):
    """One parameter of a Text in the current language."""
    if isinstance(param, Text):
        return translate(param)
    if isinstance(param, Moment):
        return format_local(param.at, param.pattern, param.tz or "UTC")
    if isinstance(param, Day):
        return format_local(param.day, param.pattern)
    if isinstance(param, Join):
        return param.separator.join(str(_translated(part)) for part in param.parts)
    if isinstance(param, Written):
        return dict(param.translations).get(get_locale().language) or param.text
    return param


@pass_eval_context
def join_translated(eval_ctx, value, d: str = "", attribute=None) -> str:
    """Jinja's ``join``, each item translated first (``form.errors|join(" ")`` of rule messages)."""
    items = [translate(item) for item in value] if attribute is None else value
    return do_join(eval_ctx, items, d, attribute)


# --- formatting helpers for templates -------------------------------------------------------
def format_local(value: datetime | date | None, pattern: str, tz: str | tzinfo | None = None) -> str:
    """``value`` in the current language with a CLDR pattern: "Tue 10 Mar 2026, 10:00" in
    English, "mar 10 mar 2026, 10:00" in Italian. A datetime is shown in ``tz`` (a zone name),
    else in its own zone (a time already made local; a naive one is UTC)."""
    if value is None:
        return ""
    locale = get_locale() or "en"
    if isinstance(value, datetime):
        return babel_dates.format_datetime(value, pattern, tzinfo=tz or value.tzinfo, locale=locale)
    return babel_dates.format_date(value, pattern, locale=locale)


def when(value: datetime | date | None, pattern: str = "EEE dd MMM y, HH:mm") -> str:
    """A date or datetime in the current language with a CLDR pattern; datetimes are shown in
    the clinic's time zone ("EEEE d MMMM y, HH:mm" -> "giovedì 10 dicembre 2026, 11:15")."""
    return format_local(value, pattern, get_timezone())


def price(cents: int | None, currency: str | None = None) -> str:
    """A price in cents in the clinic's currency for the current language ("€180.00" in
    English, "180,00 €" in Italian); "price on request" when there is none."""
    from booking.services.clinic import get_settings

    if cents is None:
        return str(lazy_gettext("price on request"))
    code = (currency or get_settings().currency or "EUR").upper()
    amount = Decimal(int(cents)) / 100
    locale = get_locale()
    pattern = locale.currency_formats["standard"].pattern.split(";")[0]
    if get_currency_symbol(code, locale) == code:
        # No symbol in this language: the code after the amount ("60.50 SEK"), as people write it.
        pattern = pattern.replace("¤", "").strip("\u00a0 ") + " ¤"
    if int(cents) % 100 == 0:
        # Whole amounts without decimals, as the clinic quotes them ("€180", "180 €").
        pattern = pattern.replace(".00", "")
    return format_currency(amount, code, format=pattern, currency_digits=False)


def weekday_names(width: str = "abbreviated") -> list[str]:
    """The days of the week, Monday first, in the current language ("Mon" ... / "lun" ...)."""
    from babel.dates import get_day_names

    names = get_day_names(width, context="format", locale=get_locale())
    return [names[i] for i in range(7)]


def switch_links() -> list[tuple[str, str, str, bool]]:
    """The language switcher: (code, name, its link, current?). The links go through
    ``public.language``, which comes back to this page (its Referer) in that language."""
    from flask import url_for

    current = str(get_locale())
    return [(code, LANGUAGE_NAMES.get(code, code), url_for("public.language", code=code), code == current)
            for code in supported()]


def register_i18n(app: Flask) -> None:
    """Bind Flask-Babel with our selectors, and add the template helpers."""
    import os

    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone,
          default_translation_directories=os.path.join(os.path.dirname(__file__), TRANSLATIONS))
    app.before_request(remember_asked_language)
    # Every ``{{ value }}`` passes through translate: a rule book message (a form error, a
    # problem list) reaches the page in the reader's language without each template asking.
    app.jinja_env.finalize = translate
    app.jinja_env.filters["join"] = join_translated  # joined items never reach finalize one by one
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["price"] = price
    app.jinja_env.globals.update(language_links=switch_links, weekday_names=weekday_names, current_locale=lambda: str(get_locale()))
