"""The text and HTML bodies of e-mails, from ``templates/mail`` with a plain Jinja environment.

No Flask app is needed: a renderer is built from the templates folder and the site's address
(``BASE_URL``, where links in mails point). ``create_app`` installs the one its configuration
describes; callers may pass a renderer of their own instead (tests, a worker without an app).

The HTML part extends ``mail/_base.html``: a table layout with the clinic's name in its colour
(``ClinicSettings.primary_color``) as the header and its address and phone in the footer, no
images, styled by one ``<style>`` block that is inlined into ``style`` attributes here
(``css-inline``), because Gmail and Outlook drop or ignore much of a ``<style>`` block.

Languages (issue 16): mail is written in its reader's language, whoever made it go out: the
reader's saved preference, else the clinic's default (``reader_locale``). The templates use
``_()``, ``ngettext`` and ``pgettext`` as pages do (Jinja's i18n extension over Flask-Babel's
catalog); a caller wraps the rendering, the subject and the invite in ``written_for(reader,
settings)``, which also makes the clinic's own texts (treatment names, prep instructions) come
in that language. Dates are Babel's (``booking.i18n.format_local``), in the clinic's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import css_inline
from flask_babel import force_locale, get_translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from booking import protocol_text
from booking.i18n import format_local, reading_language, supported, translate

if TYPE_CHECKING:
    from booking.models import ClinicSettings, User

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


DEFAULT_COLOR = "#2f6f6a"  # the model's default, for a clinic row not saved yet
DARK_TEXT, LIGHT_TEXT = "#1f2933", "#ffffff"
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Brand:
    """The colours a mail is drawn in: the clinic's, and text that stays readable on and next to it."""

    color: str  # header and button background
    on_color: str  # text on ``color``
    link: str  # links on the white body


def _luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def brand(primary_color: str | None) -> Brand:
    """The mail colours of a clinic whose colour is ``primary_color`` (anything but ``#rrggbb``,
    which the admin form enforces, falls back to the default: it is written into CSS)."""
    color = primary_color if primary_color and _HEX_COLOR.match(primary_color) else DEFAULT_COLOR
    on_color = LIGHT_TEXT if contrast(color, LIGHT_TEXT) >= contrast(color, DARK_TEXT) else DARK_TEXT
    link = color if contrast(color, LIGHT_TEXT) >= 4.5 else DARK_TEXT
    return Brand(color=color.lower(), on_color=on_color, link=link.lower())


# <style> moves into style attributes; at-rules (media queries) cannot, and are dropped with the block.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def inline_css(html: str) -> str:
    """``html`` with its ``<style>`` rules written into each element's ``style`` attribute (and
    without the blank lines template tags leave; the mail has no ``<pre>``)."""
    return _BLANK_LINES.sub("\n", _INLINER.inline(html))


def reader_locale(reader: "User | None", settings: "ClinicSettings") -> str:
    """The language mail to ``reader`` (a ``User``, or None for the clinic's own address) is
    written in: their saved preference, else the clinic's default language, else English."""
    languages = supported()
    for choice in (getattr(reader, "locale", None), getattr(settings, "default_locale", None)):
        if choice in languages:
            return choice
    return languages[0]


@contextmanager
def written_for(reader: "User | None", settings: "ClinicSettings") -> Iterator[str]:
    """Everything inside (templates, subjects, invites, the clinic's own texts) in ``reader``'s
    language; yields that language's code."""
    locale = reader_locale(reader, settings)
    with force_locale(locale):
        yield locale


def manage_url(base_url: str) -> str:
    """Where a patient manages their bookings, on the site at ``base_url``."""
    return base_url.rstrip("/") + "/me"


class MailRenderer:
    """Renders ``mail/<name>.txt`` and ``mail/<name>.html``; knows where links point."""

    def __init__(self, base_url: str, templates: Path = TEMPLATES) -> None:
        """A renderer over ``templates`` for the site at ``base_url``."""
        self.base_url = base_url.rstrip("/")
        # Escaping as Flask does it: HTML templates escaped, text templates as written.
        self.environment = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html", "htm", "xml", "xhtml", "svg"], default=False),
            extensions=["jinja2.ext.i18n"],
        )
        # Looked up at each call, so the language of the moment (``written_for``) applies.
        self.environment.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=lambda s: get_translations().ugettext(s),
            ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
            pgettext=lambda c, s: get_translations().upgettext(c, s),
            npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
            newstyle=True,
        )
        # ``say``: a sentence of the scheduling layer (a timeline's "Session 2") in the language.
        self.environment.globals.update(describe_lead=protocol_text.lead_time, mail_brand=brand,
                                        language=lambda: reading_language() or "en", say=translate)
        self.environment.filters["local"] = format_local

    @property
    def manage_url(self) -> str:
        """Where a patient manages their bookings."""
        return manage_url(self.base_url)

    def render(self, name: str, **context) -> tuple[str, str]:
        """A message's text and HTML bodies from ``templates/mail/<name>.txt|.html``, the HTML
        with its CSS inlined. ``context`` needs ``clinic`` (the ``ClinicSettings``) for the layout."""
        return (
            self.environment.get_template(f"mail/{name}.txt").render(**context),
            inline_css(self.environment.get_template(f"mail/{name}.html").render(**context)),
        )


_installed: MailRenderer | None = None


def install(renderer: MailRenderer) -> None:
    """Make ``renderer`` the one mail is written with when no other is passed (``create_app``
    installs the one of its configuration)."""
    global _installed
    _installed = renderer


def installed() -> MailRenderer:
    """The installed renderer."""
    if _installed is None:
        raise RuntimeError("No mail renderer is installed: create the app first, or pass mail=MailRenderer(...).")
    return _installed
