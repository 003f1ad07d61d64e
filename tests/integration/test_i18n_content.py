"""Issue 16, the clinic's own texts: treatment names and descriptions, prep steps and the
clinic's welcome and after-booking note are entered per language in admin and read in the
visitor's language, falling back to the clinic's default language; editing in an Italian page
keeps the default texts; nothing caches a translated text across languages."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from html import unescape

import pytest
from flask_babel import force_locale
from sqlalchemy import create_engine, select, text

from booking.extensions import db
from booking.i18n import translate
from booking.models import AuditEvent, ClinicSettings, PrepRule, Treatment
from booking.models.base import utcnow
from booking.scheduling.timing_checks import check_prep_window
from booking.services import rule_cache
from tests.conftest import make_pg_database, require_postgres, run_migrations
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in

FACE_IT = "Mesoterapia viso"
FACE_DESCRIPTION = "Micro-injections of vitamins and hyaluronic acid."
FACE_DESCRIPTION_IT = "Microiniezioni di vitamine e acido ialuronico."
ASPIRIN_IT = "Sospendere aspirina e antinfiammatori"


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    clinic.face.description = FACE_DESCRIPTION
    db.session.commit()
    return clinic


def page_text(response) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def csrf(response) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def input_value(response, name: str) -> str:
    """The value of a text input, or the content of a text area, as the page shows it."""
    body = response.get_data(as_text=True)
    found = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % re.escape(name), body)
    if found is None:
        found = re.search(r'<textarea[^>]*name="%s"[^>]*>\s*([^<]*)</textarea>' % re.escape(name), body)
    return unescape(found.group(1)) if found else ""


def sign_out(app, client) -> None:
    """Sign out, CSRF off from here on. (The tests' requests share one app context, so one
    client signs out before another signs in.)"""
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/logout").status_code == 302


def sign_in_with_csrf(app, client, email: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    token = csrf(client.get("/login"))
    assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 302


def face_form(clinic, **changes) -> dict:
    """The face treatment's form as stored in the test clinic."""
    form = {"slug": "mesotherapy-face", "name": "Mesotherapy, face", "description": FACE_DESCRIPTION,
            "kind": "treatment", "body_area": "face", "duration_minutes": "30", "buffer_before_minutes": "0",
            "buffer_after_minutes": "10", "needs_room": "y", "color": "#4a7fb5", "active": "y", "sessions": "4",
            "interval_min_days": "10", "interval_target_days": "14", "interval_max_days": "21",
            "consultation_treatment_id": str(clinic.consultation.id), "consultation_min_days_before": "2",
            "consultation_valid_days": "180", "aftercare_hours": "72", "contraindications": ["pregnant"],
            "prep_answer_by_hours": "24"}
    return form | changes


def aspirin(clinic) -> PrepRule:
    return next(r for r in clinic.face.protocol.prep_rules if r.instruction_default.startswith("Stop aspirin"))


def test_the_admin_enters_italian_texts_and_each_visitor_reads_their_language(app, client, clinic):
    sign_in_with_csrf(app, client, clinic.admin.email)
    rule = aspirin(clinic)
    page = client.get(f"/admin/treatments/{clinic.face.id}?lang=en")
    assert "Name (Italiano)" in page_text(page) and "Description (Italiano)" in page_text(page)
    assert page_text(page).count("Instruction (Italiano)") == 2 + 2  # one per prep step, one per "add" form
    saved = client.post(f"/admin/treatments/{clinic.face.id}", data=face_form(
        clinic, csrf_token=csrf(page), name__it=FACE_IT, description__it=FACE_DESCRIPTION_IT,
        **{f"prep_{rule.id}__it": ASPIRIN_IT}))  # "No alcohol" left empty: it falls back
    assert saved.status_code == 302, page_text(saved)
    db.session.expire_all()
    face = db.session.get(Treatment, clinic.face.id)
    assert face.name_default == "Mesotherapy, face" and face.translations == {
        "it": {"name": FACE_IT, "description": FACE_DESCRIPTION_IT}}
    sign_out(app, client)

    # The home page: the name, the description and the prep steps in the visitor's language.
    italian = page_text(app.test_client().get("/?lang=it"))
    assert FACE_IT in italian and FACE_DESCRIPTION_IT in italian and ASPIRIN_IT in italian
    assert "No alcohol" in italian  # not translated: the clinic's default language
    english = page_text(app.test_client().get("/?lang=en"))
    assert "Mesotherapy, face" in english and FACE_DESCRIPTION in english and "Stop aspirin and NSAIDs" in english
    assert FACE_IT not in english and ASPIRIN_IT not in english

    # The booking wizard: a patient with a consultation picks a first session and reads the series
    # page (its title and the prep timeline) in Italian; an English one reads the default texts.
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    first = at(monday_in(3), 10)
    for lang, name, prep in (("it", FACE_IT, ASPIRIN_IT), ("en", "Mesotherapy, face", "Stop aspirin and NSAIDs")):
        patient = app.test_client()
        assert patient.post("/login", data={"email": clinic.patient.email, "password": PASSWORD}).status_code == 302
        picked = patient.get("/book/mesotherapy-face/pick",
                             query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}", "lang": lang})
        series = page_text(patient.get(picked.headers["Location"]))
        assert name in series and prep in series and "No alcohol" in series
        other = FACE_IT if lang == "en" else "Mesotherapy, face"
        assert other not in series
        sign_out(app, patient)


def test_editing_in_an_italian_page_keeps_the_default_texts(app, client, clinic):
    clinic.face.set_translation("it", name=FACE_IT, description=FACE_DESCRIPTION_IT)
    aspirin(clinic).set_translation("it", instruction=ASPIRIN_IT)
    db.session.commit()
    sign_in_with_csrf(app, client, clinic.admin.email)
    page = client.get(f"/admin/treatments/{clinic.face.id}?lang=it")
    rule = aspirin(clinic)
    # The default fields hold the default texts, the Italian ones the Italian texts.
    assert input_value(page, "name") == "Mesotherapy, face" and input_value(page, "name__it") == FACE_IT
    assert input_value(page, "description") == FACE_DESCRIPTION
    assert input_value(page, f"prep_{rule.id}__it") == ASPIRIN_IT
    assert "Nome (Italiano)" in page_text(page)
    form = face_form(clinic, csrf_token=csrf(page), duration_minutes="40", name__it=FACE_IT,
                     description__it="", **{f"prep_{rule.id}__it": ASPIRIN_IT})
    assert client.post(f"/admin/treatments/{clinic.face.id}?lang=it", data=form).status_code == 302
    db.session.expire_all()
    face = db.session.get(Treatment, clinic.face.id)
    assert (face.name_default, face.description_default, face.duration_minutes) == (
        "Mesotherapy, face", FACE_DESCRIPTION, 40)
    assert face.translations == {"it": {"name": FACE_IT}}  # the emptied description falls back again
    with force_locale("it"):
        assert (face.name, face.description) == (FACE_IT, FACE_DESCRIPTION)
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.treatment_saved")).all()[-1]
    assert audit.before["name"] == audit.after["name"] == "Mesotherapy, face"
    assert audit.before["translations"]["it"]["description"] == FACE_DESCRIPTION_IT
    assert "description" not in audit.after["translations"]["it"]


def test_a_step_or_language_the_page_did_not_show_is_refused_or_kept(app, client, clinic):
    from booking.services import catalog_admin
    from booking.services.actor import Actor
    from booking.services.errors import InvalidRequest

    admin = Actor(user_id=clinic.admin.id, role="admin")
    with app.test_request_context("/"):
        with pytest.raises(InvalidRequest, match="no longer exists"):
            catalog_admin.save_treatment(admin, clinic.face.id, treatment=_values(clinic.face),
                                         protocol=_protocol(clinic.face), step_translations={"prep-999": {"it": "x"}})
        with pytest.raises(InvalidRequest, match="Choose a language"):
            catalog_admin.save_treatment(admin, clinic.face.id, treatment=_values(clinic.face),
                                         protocol=_protocol(clinic.face), translations={"xx": {"name": "x"}})
    # A form without the Italian fields (an older page) keeps the Italian texts.
    clinic.face.set_translation("it", name=FACE_IT)
    db.session.commit()
    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    assert client.post(f"/admin/treatments/{clinic.face.id}", data=face_form(clinic)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Treatment, clinic.face.id).translations == {"it": {"name": FACE_IT}}
    too_long = client.post(f"/admin/treatments/{clinic.face.id}", data=face_form(clinic, name__it="x" * 121))
    assert too_long.status_code == 400 and "120" in page_text(too_long)


def test_a_new_step_is_added_with_its_italian_instruction(app, client, clinic):
    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = page_text(client.get(f"/admin/treatments/{clinic.face.id}"))
    assert page.count("Instruction (Italiano)") == 2 + 2  # the two prep steps, and the two "add" forms
    client.post(f"/admin/treatments/{clinic.face.id}/prep", data={
        "instruction": "No retinol", "instruction__it": "Niente retinolo", "lead_hours": "72", "remind": "y"})
    client.post(f"/admin/treatments/{clinic.face.id}/aftercare", data={
        "instruction": "No sauna", "instruction__it": "", "hours": "48"})
    db.session.expire_all()
    protocol = db.session.get(Treatment, clinic.face.id).protocol
    retinol = next(r for r in protocol.prep_rules if r.instruction_default == "No retinol")
    sauna = protocol.aftercare_rules[0]
    assert retinol.translations == {"it": {"instruction": "Niente retinolo"}} and sauna.translations == {}
    with force_locale("it"):
        assert (retinol.instruction, sauna.instruction) == ("Niente retinolo", "No sauna")
    added = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.prep_rule_added")).one()
    assert added.after["instruction"] == "No retinol" and added.after["translations"]["it"]["instruction"] == (
        "Niente retinolo")


def _values(treatment: Treatment) -> dict:
    from booking.services.catalog_admin import TREATMENT_FIELDS

    return {name: treatment.default_text(name) if name in treatment.TRANSLATED_FIELDS else getattr(treatment, name)
            for name in TREATMENT_FIELDS}


def _protocol(treatment: Treatment) -> dict:
    from booking.services.catalog_admin import PROTOCOL_FIELDS

    return {name: getattr(treatment.protocol, name) for name in PROTOCOL_FIELDS}


def test_the_clinics_welcome_and_note_after_booking_in_each_language(app, client, clinic):
    sign_in_with_csrf(app, client, clinic.admin.email)
    page = client.get("/admin/settings?lang=en")
    assert "Welcome text (Italiano)" in page_text(page)
    saved = client.post("/admin/settings/texts", data={
        "csrf_token": csrf(page), "welcome_text": "Welcome to our clinic.\r\n\r\nFree parking behind the building.",
        "booking_note": "Please arrive ten minutes early.", "welcome_text__it": "Benvenuti nella nostra clinica.",
        "booking_note__it": ""})
    assert saved.status_code == 302
    db.session.expire_all()
    settings = db.session.get(ClinicSettings, 1)
    assert settings.welcome_text_default == "Welcome to our clinic.\n\nFree parking behind the building."
    assert settings.translations == {"it": {"welcome_text": "Benvenuti nella nostra clinica."}}
    assert client.post("/admin/settings/texts", data={"csrf_token": csrf(page), "welcome_text": "x" * 2001}
                       ).status_code == 400
    sign_out(app, client)

    italian = app.test_client().get("/?lang=it").get_data(as_text=True)
    assert '<p class="welcome">Benvenuti nella nostra clinica.</p>' in italian and "Welcome to" not in italian
    english = app.test_client().get("/?lang=en").get_data(as_text=True)
    assert '<p class="welcome">Welcome to our clinic.</p>' in english
    assert '<p class="welcome">Free parking behind the building.</p>' in english

    # After booking, the note: not translated, so an Italian patient reads the default one.
    patient = app.test_client()
    assert patient.post("/login", data={"email": clinic.patient.email, "password": PASSWORD}).status_code == 302
    day = monday_in(2)
    times = re.findall(r'href="([^"]*/book/consultation/pick[^"]*)"',
                       patient.get(f"/book/consultation?lang=it&month={day:%Y-%m}&day={day.isoformat()}")
                       .get_data(as_text=True))
    assert patient.get(unescape(times[0])).headers["Location"].endswith("/book/review")
    booked = patient.post("/book/review", data={})
    assert booked.status_code == 302, page_text(booked)
    done = page_text(patient.get(booked.headers["Location"]))
    assert "Please arrive ten minutes early." in done and "Una nota da Test Clinic" in done


def test_when_the_clinic_changes_its_language_its_texts_in_that_language_become_the_defaults(app, client, clinic):
    clinic.face.set_translation("it", name=FACE_IT)  # the description was never written in Italian
    rule_id = aspirin(clinic).id
    aspirin(clinic).set_translation("it", instruction=ASPIRIN_IT)
    settings = db.session.get(ClinicSettings, 1)
    settings.welcome_text = "Welcome."
    settings.set_translation("it", welcome_text="Benvenuti.")
    db.session.commit()
    sign_in_with_csrf(app, client, clinic.admin.email)
    page = client.get("/admin/settings?lang=en")
    form = {"csrf_token": csrf(page), "name": "Test Clinic", "timezone": "Europe/Rome", "horizon_days": 180,
            "min_notice_hours": 24, "cancel_cutoff_hours": 24, "slot_step_minutes": 15, "reminder_hours": 48,
            "primary_color": "#2f6f6a", "country": "IT", "region": "", "currency": "EUR", "default_locale": "it"}
    saved = client.post("/admin/settings", data=form)
    assert saved.status_code == 302, page_text(saved)
    db.session.expire_all()
    face, rule = db.session.get(Treatment, clinic.face.id), db.session.get(PrepRule, rule_id)
    assert (face.name_default, face.translation("en", "name")) == (FACE_IT, "Mesotherapy, face")
    assert (face.description_default, face.translation("en", "description")) == (FACE_DESCRIPTION, "")
    assert face.translation("it", "name") == ""
    assert rule.instruction_default == ASPIRIN_IT and rule.translation("en", "instruction").startswith("Stop aspirin")
    settings = db.session.get(ClinicSettings, 1)
    assert (settings.welcome_text_default, settings.translations) == ("Benvenuti.", {"en": {"welcome_text": "Welcome."}})
    # The treatment page now edits the Italian as the default and shows the English beside it.
    treatment_page = client.get(f"/admin/treatments/{face.id}?lang=en")
    assert input_value(treatment_page, "name") == FACE_IT
    assert input_value(treatment_page, "name__en") == "Mesotherapy, face"
    sign_out(app, client)
    assert FACE_IT in page_text(app.test_client().get("/?lang=it"))
    assert "Mesotherapy, face" in page_text(app.test_client().get("/?lang=en"))


def test_the_cached_scheduling_rules_keep_the_default_text_in_any_language(app, clinic):
    aspirin(clinic).set_translation("it", instruction=ASPIRIN_IT)
    db.session.commit()
    rule_cache.forget()
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert aspirin(clinic).instruction == ASPIRIN_IT  # what an Italian page shows
        rules = rule_cache.current_rules()  # loaded during an Italian request...
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        # ... and reused by an English one: it holds the default text, never the Italian one.
        assert rule_cache.current_rules() is rules
        protocol = rules.treatments[clinic.face.id].protocol
        assert [step.instruction for step in protocol.prep] == ["Stop aspirin and NSAIDs", "No alcohol"]
        # A session too soon for the prep: the problem names the step in the reader's language.
        start = utcnow() + timedelta(days=2)
        problem = check_prep_window(start, utcnow(), protocol, tz="Europe/Rome")[0]
        assert translate(problem.message).startswith("Stop aspirin and NSAIDs needs 7 days before the session")
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()
        italian = translate(problem.message)
        assert ASPIRIN_IT in italian and "Stop aspirin" not in italian and "giorni" in italian


def test_reading_writing_and_querying_translated_texts(app, clinic):
    peel = Treatment(slug="peel", name="Peel", description="A light peel.", duration_minutes=30)
    peel.set_translation("it", name="Peeling", description="")
    db.session.add(peel)
    db.session.commit()
    assert peel.translations == {"it": {"name": "Peeling"}}
    assert (peel.name, peel.description) == ("Peel", "A light peel.")  # outside a request: the default
    with force_locale("it"):  # as mail written for an Italian reader
        assert (peel.name, peel.description) == ("Peeling", "A light peel.")
        peel.name = "Peel (new)"  # writing sets the default text
    assert peel.name_default == "Peel (new)" and peel.translation("it", "name") == "Peeling"
    db.session.commit()
    # Queries compare and sort by the default text.
    assert db.session.scalar(select(Treatment.id).where(Treatment.name == "Peel (new)")) == peel.id
    assert db.session.scalars(select(Treatment.name).order_by(Treatment.name)).all() == [
        "Consultation", "Mesotherapy, face", "Peel (new)"]
    with pytest.raises(ValueError, match="no translatable colour"):
        peel.set_translation("it", colour="red")


def _migrate_and_read(url: str) -> None:
    """Upgrade to 0009, store a treatment and a prep rule, upgrade to head: old rows read their
    texts with no translations, and the new columns work."""
    run_migrations(url, "upgrade", "0009")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO treatment (id, slug, name, description, kind, duration_minutes, "
                                "buffer_before_minutes, buffer_after_minutes, needs_room, color, active) VALUES "
                                "(1, 'peel', 'Peel', '', 'treatment', 30, 0, 0, true, '#4a7fb5', true)"))
        connection.execute(text("INSERT INTO protocol (id, treatment_id, sessions, consultation_min_days_before, "
                                "consultation_valid_days, aftercare_hours, contraindications, prep_answer_by_hours) "
                                "VALUES (1, 1, 1, 0, 180, 0, '[]', 24)"))
        connection.execute(text("INSERT INTO prep_rule (protocol_id, instruction, lead_hours, remind) "
                                "VALUES (1, 'No retinol', 72, true)"))
    run_migrations(url, "upgrade", "head")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT t.name, t.translations, p.translations FROM treatment t "
                                       "JOIN protocol o ON o.treatment_id = t.id "
                                       "JOIN prep_rule p ON p.protocol_id = o.id")).all()
        assert [(name, str(a).replace(" ", ""), str(b).replace(" ", "")) for name, a, b in rows] == [
            ("Peel", "{}", "{}")]
    run_migrations(url, "downgrade", "0009")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM treatment")).scalar() == "Peel"
    engine.dispose()


def test_the_migration_applies_on_sqlite(tmp_path):
    _migrate_and_read(f"sqlite:///{tmp_path / 'content.sqlite3'}")


def test_the_migration_applies_on_postgres():
    base = require_postgres()
    name = f"booking_content_{os.getpid()}"
    url = make_pg_database(base, name)
    try:
        _migrate_and_read(url)
    finally:
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
