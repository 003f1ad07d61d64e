"""Issue 16, languages: the Italian catalog is complete, the wrapped templates have no text
outside gettext, the language of a request is chosen in the stated order, and Italian pages
show Italian words, Italian dates and prices, and Italian plurals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from booking.extensions import db
from booking.models import User
from booking.services.clinic import get_settings
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "booking" / "translations" / "it" / "LC_MESSAGES" / "messages.po"
# Every page template, walked: a new template is checked without being listed anywhere.
WRAPPED = sorted(str(p.relative_to(ROOT / "templates")) for p in (ROOT / "templates").rglob("*.html")
                 if p.relative_to(ROOT / "templates").parts[0] != "mail")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    clinic.face.price_cents = 18000
    db.session.commit()
    return clinic


def catalog():
    with CATALOG.open("rb") as file:
        return read_po(file)


def visible_text(html: str) -> str:
    """The page's text without tags, scripts or styles, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def login(client, email: str) -> None:
    assert client.post("/login", data={"email": email, "password": "password123"}).status_code == 302


# --- (a) the catalog -----------------------------------------------------------------------
def test_every_msgid_of_the_italian_catalog_is_translated_and_not_fuzzy():
    messages = [m for m in catalog() if m.id]
    assert len(messages) > 100, "the catalog holds the wrapped strings"
    untranslated = [m.id for m in messages
                    if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == [] and fuzzy == [], (untranslated, fuzzy)


def test_the_translations_keep_every_placeholder_of_their_msgid():
    for message in catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) <= wanted | set(PLACEHOLDER.findall(ids[0])), message.id
            assert wanted - {"%(num)d"} <= set(PLACEHOLDER.findall(string)), message.id


def test_the_template_catalog_has_every_string_of_the_italian_one():
    with (ROOT / "booking" / "translations" / "messages.pot").open("rb") as file:
        template = {m.id for m in read_po(file) if m.id}
    assert template == {m.id for m in catalog() if m.id}, "run make translations-update"


# --- (b) no user-facing text outside gettext in the wrapped templates -------------------------
class _TextNodes(HTMLParser):
    """Collects text nodes and user-facing attribute values of a template with its Jinja parts
    replaced by a marker."""

    ATTRIBUTES = {"title", "alt", "placeholder", "aria-label"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in self.ATTRIBUTES and value]
        self.code = tag in ("style", "script", "code")

    def handle_endtag(self, tag):
        self.code = False

    def handle_data(self, data):
        if not getattr(self, "code", False):  # CSS, scripts and commands are not words to translate
            self.found.append(data)


def untranslated_text(source: str) -> list[str]:
    """Words in ``source`` outside ``{{ }}``, ``{% %}`` and ``{% trans %}`` blocks."""
    parts, in_trans, previous = [], False, None
    for _line, kind, value in Environment(extensions=["jinja2.ext.i18n"]).lex(source):
        if kind == "name" and previous == "block_begin" and value in ("trans", "pluralize"):
            in_trans = True
        elif kind == "name" and previous == "block_begin" and value == "endtrans":
            in_trans = False
        if kind == "data" and not in_trans:
            parts.append(value)
        elif not parts or parts[-1] != " ":
            parts.append(" ")  # a Jinja part: a space keeps tags like <li{% if %}…> parseable
        if kind not in ("whitespace",):
            previous = kind
    nodes = _TextNodes()
    nodes.feed("".join(parts))
    return [text.strip() for text in nodes.found if re.search(r"[A-Za-z]{2,}", text)]


def test_the_checker_finds_text_outside_gettext():
    assert untranslated_text('<p>{{ _("Fine") }}</p><p>Not fine</p>') == ["Not fine"]
    assert untranslated_text('<a title="Bare title" href="{{ x }}">{{ _("ok") }}</a>') == ["Bare title"]
    assert untranslated_text("{% trans %}Inside a trans block{% endtrans %} · {{ n }}") == []


@pytest.mark.parametrize("name", WRAPPED)
def test_wrapped_templates_have_no_text_outside_gettext(name):
    assert untranslated_text((ROOT / "templates" / name).read_text()) == []


# Every mail template: the HTML parts through the same checker, the text parts through their own.
MAIL_HTML = sorted(f"mail/{p.name}" for p in (ROOT / "templates" / "mail").glob("*.html"))
MAIL_TEXT = sorted(f"mail/{p.name}" for p in (ROOT / "templates" / "mail").glob("*.txt"))
_URL = re.compile(r"https?://\S+")


def untranslated_plain_text(source: str) -> list[str]:
    """The pieces of a plain-text template outside Jinja tags that hold more than whitespace,
    punctuation and URLs (a word there would reach every reader in English)."""
    pieces = [value for _line, kind, value in Environment(extensions=["jinja2.ext.i18n"]).lex(source)
              if kind == "data"]
    return [piece.strip() for piece in pieces if re.search(r"\w", _URL.sub("", piece))]


def test_the_text_checker_finds_words_outside_gettext():
    assert untranslated_plain_text('{{ _("Fine") }}:\n  - {{ x }} (https://a.example/b)\nNot fine {{ y }}') \
        == ["(https://a.example/b)\nNot fine"]
    assert untranslated_plain_text('{% if a %}{{ _("Hello %(name)s,", name=n) }}{% endif %}\n\n  - ()') == []


def test_every_mail_template_is_checked():
    assert len(MAIL_HTML) >= 15 and len(MAIL_TEXT) >= 13 and "mail/_base.html" in MAIL_HTML


@pytest.mark.parametrize("name", MAIL_HTML)
def test_mail_html_templates_have_no_text_outside_gettext(name):
    assert untranslated_text((ROOT / "templates" / name).read_text()) == []


@pytest.mark.parametrize("name", MAIL_TEXT)
def test_mail_text_templates_have_no_words_outside_gettext(name):
    assert untranslated_plain_text((ROOT / "templates" / name).read_text()) == []


# --- (c) which language a request gets ------------------------------------------------------
def test_lang_in_the_query_wins_and_is_remembered_for_the_visit(client, clinic):
    assert "Prenota" in visible_text(client.get("/?lang=it").get_data(as_text=True))
    later = visible_text(client.get("/").get_data(as_text=True))
    assert "Prenota" in later and "Sign in" not in later
    assert "Sign in" in visible_text(client.get("/?lang=en").get_data(as_text=True))
    assert "Sign in" in visible_text(client.get("/?lang=xx").get_data(as_text=True))  # unknown: unchanged


def test_a_signed_in_users_choice_is_saved_and_used_on_every_device(app, client, clinic):
    login(client, clinic.patient.email)
    client.get("/?lang=it")
    db.session.expire_all()
    assert db.session.get(User, clinic.patient.id).locale == "it"
    other_device = app.test_client()
    login(other_device, clinic.patient.email)
    assert 'lang="it"' in other_device.get("/").get_data(as_text=True)
    # The user's preference comes before the clinic's default and the browser.
    get_settings().default_locale = "en"
    db.session.commit()
    page = other_device.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "I miei appuntamenti" in visible_text(page)


def test_the_switcher_saves_the_choice_and_goes_back_to_the_page(client, clinic):
    login(client, clinic.patient.email)
    back = client.get("/language/it", headers={"Referer": "http://localhost/book/consultation?month=2026-12"})
    assert back.status_code == 302 and back.headers["Location"] == "/book/consultation?month=2026-12"
    db.session.expire_all()
    assert db.session.get(User, clinic.patient.id).locale == "it"
    off_site = client.get("/language/en", headers={"Referer": "https://evil.example/phish"})
    assert off_site.headers["Location"] == "/"
    assert client.get("/language/zz").status_code == 302  # an unknown language changes nothing
    db.session.expire_all()
    assert db.session.get(User, clinic.patient.id).locale == "en"


def test_every_page_links_both_languages(client, clinic):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/language/en"' in page and 'href="/language/it"' in page and ">Italiano</a>" in page


def test_a_visitors_browser_language_comes_before_the_clinics_default(client, clinic):
    get_settings().default_locale = "it"
    db.session.commit()
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page  # an English-speaking visitor of an Italian clinic
    page = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="it">' in page and "Prenota" in visible_text(page)  # no German: the clinic's Italian
    assert '<html lang="it">' in client.get("/").get_data(as_text=True)  # no preference: the clinic's


def test_the_browser_decides_when_the_clinics_default_has_no_catalog(client, clinic):
    get_settings().default_locale = "de"
    db.session.commit()
    assert '<html lang="it">' in client.get("/", headers={"Accept-Language": "it-IT,it;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "fr, en;q=0.5"}).get_data(as_text=True)


def test_english_is_the_default_of_a_new_clinic(client, clinic):
    assert get_settings().default_locale == "en"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert '<html lang="it">' in client.get("/", headers={"Accept-Language": "it"}).get_data(as_text=True)


# --- (d) Italian pages --------------------------------------------------------------------
def english_fragments() -> set[str]:
    """The English phrases (two words or more) of every msgid whose Italian differs."""
    fragments = set()
    for message in catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for msgid in ids:
            for piece in re.split(r"%\([a-z_]+\)[sd]|<[^>]+>", msgid):
                piece = unescape(piece).strip(" .,:;()")
                if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2:
                    fragments.add(piece)
    return fragments


@pytest.mark.parametrize("url", ["/?lang=it", "/book/consultation?lang=it", "/login?lang=it", "/register?lang=it"])
def test_italian_pages_have_no_english_from_the_wrapped_strings(client, clinic, url):
    text = visible_text(client.get(url).get_data(as_text=True))
    left = sorted(fragment for fragment in english_fragments() if fragment in text)
    assert left == [], f"English left on {url}: {left}"


def test_the_home_page_and_the_wizard_in_italian(client, clinic):
    home = visible_text(client.get("/?lang=it").get_data(as_text=True))
    assert "Prenota una consulenza" in home and "30 minuti ciascuna" in home and "Accedi" in home
    choose = client.get("/book/consultation?lang=it").get_data(as_text=True)
    text = visible_text(choose)
    assert "Prenota Consultation" in text and "Qualsiasi operatore" in text and "Mostra i giorni liberi" in text
    assert "<th scope=\"col\">lun</th>" in choose  # the day picker's weekdays
    month = re.search(r'<h2 id="month-label">([^<]+)</h2>', choose).group(1)
    assert month.split()[0] in {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
                                "agosto", "settembre", "ottobre", "novembre", "dicembre"}


def test_dates_and_prices_are_formatted_by_babel_for_the_language(app, clinic):
    moment = datetime(2026, 12, 10, 10, 15, tzinfo=UTC)  # 11:15 in Rome
    template = app.jinja_env.from_string('{{ moment|when("EEEE d MMMM y, HH:mm") }} | {{ whole|money }} | '
                                         '{{ cents|money }} | {{ day|when("EEE dd MMM y") }}')
    values = dict(moment=moment, day=date(2026, 12, 10), whole=18000, cents=6050)
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert template.render(**values) == (
            "giovedì 10 dicembre 2026, 11:15 | 180\xa0€ | 60,50\xa0€ | gio 10 dic 2026")
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert template.render(**values) == (
            "Thursday 10 December 2026, 11:15 | €180 | €60.50 | Thu 10 Dec 2026")


# --- (e) plurals ----------------------------------------------------------------------------
def test_italian_plurals(app, client, clinic):
    template = app.jinja_env.from_string("{{ ngettext('%(num)d session', '%(num)d sessions', n) }}")
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert [template.render(n=n) for n in (1, 4)] == ["1 seduta", "4 sedute"]
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert [template.render(n=n) for n in (1, 4)] == ["1 session", "4 sessions"]

    from flask import render_template

    from booking.web.book.state import summary_for

    with app.test_request_context("/?lang=it"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        summary = visible_text(render_template("book/_summary.html", summary=summary_for(clinic.face),
                                               clinic=get_settings()))
    # (visible_text turns no-break spaces into spaces)
    assert "180 € × 4 sedute = 720 €" in summary and "30 minuti a seduta" in summary


def test_the_admin_sets_the_clinics_default_language(client, clinic):
    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="default_locale"' in page and ">Italiano</option>" in page
    form = {"name": "Test Clinic", "timezone": "Europe/Rome", "horizon_days": 180, "min_notice_hours": 24,
            "cancel_cutoff_hours": 24, "slot_step_minutes": 15, "reminder_hours": 48, "primary_color": "#2f6f6a",
            "country": "IT", "region": "", "currency": "EUR", "default_locale": "it"}
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.expire_all()
    assert get_settings().default_locale == "it"
    assert client.post("/admin/settings", data={**form, "default_locale": "xx"}).status_code == 400
    del form["default_locale"]  # an older form without the field keeps the language
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.expire_all()
    assert get_settings().default_locale == "it"
    client.post("/logout")
    visitor = client.application.test_client()
    assert '<html lang="it">' in visitor.get("/").get_data(as_text=True)


def test_every_page_without_parameters_in_italian_for_each_role_has_no_english(app, clinic):
    """Walks every GET page of the app (no URL parameters) as admin, receptionist, practitioner
    and patient in Italian: no English phrase of the catalog on any of them (commands in
    ``<code>`` are not words to translate)."""
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    fragments, found, walked = english_fragments(), {}, 0
    for who in (clinic.admin, clinic.receptionist, clinic.anna.user, clinic.patient):
        client = app.test_client()
        assert client.post("/login", data={"email": who.email, "password": PASSWORD}).status_code == 302
        client.get("/?lang=it")
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/api/", "/static/")):
                continue
            response = client.get(rule.rule)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            walked += 1
            html = re.sub(r"<code>.*?</code>", " ", response.get_data(as_text=True), flags=re.S)
            text = visible_text(html)
            left = sorted(f for f in fragments if re.search(r"\b%s\b" % re.escape(f), text))
            if left:
                found[f"{who.role} {rule.rule}"] = left
    assert walked > 40, "the walk reached the pages"
    assert found == {}
