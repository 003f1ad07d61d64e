"""Issue 16: mail, invites and feeds in their reader's language.

The patient's saved preference decides, whoever made the mail go out (an English-speaking
receptionist booking for an Italian patient); a patient without one gets the clinic's default
language; mail to the clinic's own address is in the clinic's language; a feed is in the language
of whose feed it is. Invites are parsed with ``icalendar``, mail goes through the real outbox and
sender, and the Italian invite mail of the issue is kept as reviewed snapshots.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from flask import current_app
from icalendar import Calendar
from sqlalchemy import select

from booking import create_app
from booking.extensions import db
from booking.mail import notifications
from booking.mail.rendering import MailRenderer, reader_locale, written_for
from booking.mail.sender import DirectoryTransport, send_due
from booking.models import AftercareRule, Appointment, Offer, OutboxMessage, Recall, User
from booking.models.base import utcnow
from booking.scheduling.course import AftercareStep
from booking.services import course, patients
from booking.services.clinic import get_settings
from booking.services.course import Step
from booking.services.feeds import forget_feed_versions
from booking.services.reminders import queue_due_reminders
from tests.integration.clinic import PASSWORD, TZ, Api, at, book_consultation, build_clinic, monday_in
from tests.integration.ics_rules import assert_valid_ics
from tests.integration.test_i18n import english_fragments
from tests.integration.test_mail_snapshots import (
    BASE, _appointment, _clinic, _patient, _queue, _treatment, check_snapshot,
)

IT_DAYS = ("lun", "mar", "mer", "gio", "ven", "sab", "dom")
IT_MONTHS = ("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic")


def italian(moment: datetime) -> str:
    """How an Italian mail writes a start: "lun 14 dic 2026, 10:00 (Europe/Rome)" (spelled out
    here, independently of the code under test)."""
    local = moment.astimezone(TZ)
    return (f"{IT_DAYS[local.weekday()]} {local:%d} {IT_MONTHS[local.month - 1]} {local.year}, "
            f"{local:%H:%M} (Europe/Rome)")


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    book_consultation(clinic, clinic.other_patient, at(monday_in(2), 11))
    return clinic


def speaks(user: User, locale: str | None) -> None:
    user.locale = locale
    db.session.commit()


def messages_about(appointment_id: int) -> list[OutboxMessage]:
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id)
                              .order_by(OutboxMessage.id)).all()


def event_of(message: OutboxMessage):
    calendar = assert_valid_ics(message.ics.encode(), itip=message.ics_method)
    return calendar, calendar.walk("VEVENT")[0]


def book_face(api: Api, start: datetime, **extra) -> int:
    response = api.post("/appointments", {"treatment": "mesotherapy-face", "start": start.isoformat(),
                                          "practitioner_id": extra.pop("practitioner_id"), **extra},
                        headers={"Accept-Language": "en"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


# --- who reads it decides ---------------------------------------------------------------------
def test_an_english_receptionist_books_for_an_italian_patient_who_gets_italian_mail(app, client, clinic,
                                                                                  tmp_path):
    speaks(clinic.patient, "it")
    speaks(clinic.receptionist, "en")
    start = at(monday_in(3), 10)
    appointment_id = book_face(Api(client, clinic.receptionist.email), start, practitioner_id=clinic.anna.id,
                               patient_id=clinic.patient.id)
    (message,) = messages_about(appointment_id)
    assert message.subject == f"Prenotato: Appuntamento presso Test Clinic, {italian(start)}"
    assert message.body_text.startswith("Ciao Paola Patient,\n\nil tuo appuntamento presso Test Clinic è prenotato")
    assert "Gestisci la tua prenotazione: " in message.body_text and "Hello" not in message.body_text
    assert '<html lang="it">' in message.body_html and "L'invito è in allegato" in message.body_html.replace("&#39;", "'")
    calendar, event = event_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["SUMMARY"]) == "Appuntamento presso Test Clinic" and event["SUMMARY"].params["LANGUAGE"] == "it"
    assert "Come prepararti: accedi per vedere i passi" in str(event["DESCRIPTION"])
    assert [str(a["DESCRIPTION"]) for a in event.walk("VALARM")] == [
        "Da adesso inizia un passo di preparazione (accedi per vederlo)",
        "Domani: Appuntamento presso Test Clinic. Da adesso inizia un passo di preparazione (accedi per vederlo)"]
    # The receptionist keeps English, and the real sender delivers the Italian message as it is.
    assert db.session.get(User, clinic.receptionist.id).locale == "en"
    assert send_due(DirectoryTransport(tmp_path), mail_from=current_app.config["MAIL_FROM"]).sent == 1
    (eml,) = tmp_path.glob("*.eml")
    delivered = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert delivered["Subject"] == message.subject
    parts = {part.get_content_type(): part for part in delivered.walk()}
    assert "è prenotato per" in parts["text/plain"].get_content()
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    assert str(Calendar.from_ical(parts["text/calendar"].get_content())
               .walk("VEVENT")[0]["SUMMARY"]) == "Appuntamento presso Test Clinic"


@pytest.mark.parametrize(("default", "hello", "booked"), [("it", "Ciao", "Prenotato: "), ("en", "Hello", "Booked: ")])
def test_a_patient_without_a_preference_reads_the_clinics_default_language(client, clinic, default, hello, booked):
    get_settings().default_locale = default
    speaks(clinic.patient, None)
    speaks(clinic.other_patient, "en" if default == "it" else "it")  # another reader's choice changes nothing
    appointment_id = book_face(Api(client, clinic.patient.email), at(monday_in(3), 10),
                               practitioner_id=clinic.anna.id)
    (message,) = messages_about(appointment_id)
    assert message.subject.startswith(booked) and message.body_text.startswith(f"{hello} Paola Patient,")
    assert event_of(message)[1]["SUMMARY"].params["LANGUAGE"] == default


def test_the_readers_language_comes_first_then_the_clinics_then_english(app, clinic):
    settings = get_settings()
    settings.default_locale = "it"
    assert reader_locale(User(locale="en"), settings) == "en"
    assert reader_locale(User(locale=None), settings) == "it"
    assert reader_locale(User(locale="xx"), settings) == "it"  # a language the app does not speak
    assert reader_locale(None, settings) == "it"  # the clinic's own address
    settings.default_locale = "de"
    assert reader_locale(None, settings) == "en"


def test_a_move_and_a_cancellation_reach_an_italian_patient_in_italian(client, clinic):
    speaks(clinic.patient, "it")
    speaks(clinic.receptionist, "en")
    patient_api = Api(client, clinic.patient.email)
    first, moved = at(monday_in(3), 10), at(monday_in(3), 11)
    appointment_id = book_face(patient_api, first, practitioner_id=clinic.anna.id)
    assert patient_api.patch(f"/appointments/{appointment_id}", {"start": moved.isoformat()}).status_code == 200
    # Reception cancels on its English pages, with a message for the patient.
    assert client.post("/login", data={"email": clinic.receptionist.email, "password": PASSWORD}).status_code == 302
    page = client.post(f"/reception/appointments/{appointment_id}/cancel", follow_redirects=True,
                       data={"reason": "doctor ill", "patient_message": "Ci scusi, la richiameremo."})
    assert "Cancelled; the patient gets the cancellation by e-mail." in page.get_data(as_text=True)
    booked, move, cancelled = messages_about(appointment_id)
    assert move.subject == f"Spostato: Appuntamento presso Test Clinic, ora {italian(moved)}"
    assert f"è stato spostato. La nuova data è {italian(moved)}." in move.body_text
    assert str(event_of(move)[1]["SUMMARY"]) == "Appuntamento presso Test Clinic"
    assert cancelled.subject == f"Annullato: Appuntamento presso Test Clinic, {italian(moved)}"
    assert "Un messaggio da Test Clinic: Ci scusi, la richiameremo." in cancelled.body_text
    assert "doctor ill" not in cancelled.body_text + cancelled.body_html  # the internal reason stays inside
    calendar, event = event_of(cancelled)
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["SUMMARY"]) == "Appuntamento presso Test Clinic" and event["SEQUENCE"] == 2


def test_named_invites_use_the_clinics_italian_texts_for_an_italian_reader(client, clinic):
    get_settings().show_treatment_in_invites = True
    clinic.face.set_translation("it", name="Mesoterapia viso")
    stop_aspirin = clinic.face.protocol.prep_rules[0]
    stop_aspirin.set_translation("it", instruction="Sospendi aspirina e FANS")
    speaks(clinic.patient, "it")
    start = at(monday_in(3), 10)
    appointment_id = book_face(Api(client, clinic.patient.email), start, practitioner_id=clinic.anna.id)
    (message,) = messages_about(appointment_id)
    assert message.subject == f"Prenotato: Mesoterapia viso presso Test Clinic, {italian(start)}"
    assert "7 giorni prima: Sospendi aspirina e FANS" in message.body_text
    assert "1 giorno prima: No alcohol" in message.body_text  # no Italian written: the clinic's own text
    event = event_of(message)[1]
    assert str(event["SUMMARY"]) == "Mesoterapia viso presso Test Clinic"
    assert "Prima del tuo appuntamento:\n- 7 giorni prima: Sospendi aspirina e FANS" in str(event["DESCRIPTION"])
    assert str(event.walk("VALARM")[0]["DESCRIPTION"]) == "Sospendi aspirina e FANS"
    # An English reader of the same clinic still reads the clinic's English.
    speaks(clinic.other_patient, "en")
    other_id = book_face(Api(client, clinic.other_patient.email), at(monday_in(3), 12), practitioner_id=clinic.bruno.id)
    assert messages_about(other_id)[0].subject.startswith("Booked: Mesotherapy, face at Test Clinic, ")


# --- other mail -------------------------------------------------------------------------------
def test_reminders_are_written_in_the_patients_language(app, clinic):
    speaks(clinic.patient, "it")
    start = utcnow_plus(hours=30)
    appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="booked", created_at=start - timedelta(days=10))
    appointment.place(start, 30, 0, 10)
    db.session.add(appointment)
    db.session.commit()
    queue_due_reminders(now=start - timedelta(hours=30))
    by_kind = {m.kind: m for m in messages_about(appointment.id)}
    assert by_kind["appointment.reminder"].subject == f"Promemoria: Appuntamento presso Test Clinic, {italian(start)}"
    assert by_kind["appointment.reminder"].body_text.startswith(
        f"Ciao Paola Patient,\n\nti ricordiamo il tuo appuntamento presso Test Clinic, fissato per {italian(start)}.")
    assert by_kind["appointment.prep_reminder"].subject == (
        f"Preparazione per il tuo appuntamento presso Test Clinic, {italian(start)}")


def utcnow_plus(**delta) -> datetime:
    """A whole hour in the future, in UTC."""
    return (utcnow() + timedelta(**delta)).replace(minute=0, second=0, microsecond=0)


def test_aftercare_mail_is_in_the_patients_language_with_the_clinics_italian_steps(app, clinic):
    get_settings().show_treatment_in_invites = True
    rule = AftercareRule(protocol_id=clinic.face.protocol.id, instruction="No sauna", hours=48)
    db.session.add(rule)
    db.session.flush()
    rule.set_translation("it", instruction="Niente sauna")
    speaks(clinic.patient, "it")
    appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="completed")
    appointment.place(at(monday_in(-1), 10), 30, 0, 10)
    db.session.add(appointment)
    db.session.flush()
    course.session_completed(appointment)
    db.session.commit()
    (message,) = [m for m in messages_about(appointment.id) if m.kind == "aftercare"]
    assert message.subject == "Dopo il tuo appuntamento presso Test Clinic"
    assert "- Niente sauna (2 giorni)" in message.body_text and "Qualcosa di inatteso?" in message.body_text


def test_mail_to_the_clinics_address_is_in_the_clinics_language_and_a_reset_in_the_owners(app, clinic):
    settings = get_settings()
    settings.default_locale = "it"
    speaks(clinic.patient, "en")
    patients.request_callback(clinic.patient.id, clinic.face.id, "Please call after 5pm")
    callback = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "patient.callback"))
    assert callback.to_addr == "clinic@example.com"
    assert callback.subject == "Richiesta di richiamata: Paola Patient per Mesotherapy, face"
    assert "chiede una chiamata per Mesotherapy, face." in callback.body_text
    patients.queue_password_reset(clinic.patient.email, secret_key="k" * 32, base_url=BASE)
    reset = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "password.reset"))
    assert reset.subject == "Reset your password at Test Clinic"  # the patient chose English
    assert reset.body_text.startswith("Hello Paola Patient,\n\nto choose a new password, open this link within an hour:")
    speaks(clinic.other_patient, None)
    patients.queue_password_reset(clinic.other_patient.email, secret_key="k" * 32, base_url=BASE)
    (other,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == clinic.other_patient.email))
    assert other.subject == "Reimposta la tua password per Test Clinic"
    assert "per scegliere una nuova password, apri questo link entro un'ora:" in other.body_text


# --- feeds ------------------------------------------------------------------------------------
def feed_url(api: Api, scope: str, target: int | None = None) -> str:
    response = api.post("/feeds", {"scope": scope, **({"id": target} if target else {})})
    assert response.status_code == 201, response.get_json()
    return "/feeds/" + response.get_json()["url"].rsplit("/feeds/", 1)[1]


def test_a_patients_feed_is_in_the_patients_language_and_a_practitioners_in_theirs(client, clinic):
    speaks(clinic.patient, "it")
    clinic.face.set_translation("it", name="Mesoterapia viso")
    clinic.face.protocol.prep_rules[0].set_translation("it", instruction="Sospendi aspirina e FANS")
    db.session.commit()
    patient_api = Api(client, clinic.patient.email)
    start = at(monday_in(3), 10)
    book_face(patient_api, start, practitioner_id=clinic.anna.id)
    path = feed_url(patient_api, "patient")
    english_app = {"Accept-Language": "en-GB,en;q=0.9"}  # the calendar app asks in English: the owner decides
    response = client.get(path, headers=english_app)
    calendar = assert_valid_ics(response.data)
    assert str(calendar["X-WR-CALNAME"]) == "Test Clinic · i miei appuntamenti"
    events = calendar.walk("VEVENT")
    sessions = [str(e["SUMMARY"]) for e in events if not str(e["UID"]).startswith("prep-")]
    assert sessions == ["Appuntamento presso Test Clinic"] * 2  # the consultation and the session
    preps = sorted(str(e["SUMMARY"]) for e in events if str(e["UID"]).startswith("prep-"))
    when = italian(start).removesuffix(" (Europe/Rome)").replace(f" {start.year},", ",")
    assert preps == [f"No alcohol (prima del tuo appuntamento: {when})",
                     f"Sospendi aspirina e FANS (prima del tuo appuntamento: {when})"]
    # The practitioner's feed follows the practitioner: English, then Italian once they choose it.
    reception = Api(client, clinic.receptionist.email)
    staff_path = feed_url(reception, "practitioner", clinic.anna.id)
    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(client.get(staff_path).data).walk("VEVENT")]
    assert summaries == ["P. P. · Mesotherapy, face"]
    etag = client.get(staff_path).headers["ETag"]
    speaks(clinic.anna.user, "it")
    forget_feed_versions()  # as another server would after VERSION_TTL
    changed = client.get(staff_path, headers={"If-None-Match": etag})
    assert changed.status_code == 200, "a new language is a new version of the feed"
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(changed.data).walk("VEVENT")][0].startswith(
        "P. P. · Mesoterapia viso")


def test_a_renamed_treatment_or_a_new_translation_is_a_new_version_of_every_feed(client, clinic):
    speaks(clinic.anna.user, "it")
    reception = Api(client, clinic.receptionist.email)
    book_face(reception, at(monday_in(3), 10), practitioner_id=clinic.anna.id, patient_id=clinic.patient.id)
    path = feed_url(reception, "practitioner", clinic.anna.id)
    first = client.get(path)
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(first.data).walk("VEVENT")] == ["P. P. · Mesotherapy, face"]
    clinic.face.set_translation("it", name="Mesoterapia viso")  # the admin adds the Italian name
    db.session.commit()
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200, "the translation is a new version of the feed"
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(again.data).walk("VEVENT")] == ["P. P. · Mesoterapia viso"]
    unchanged = client.get(path, headers={"If-None-Match": again.headers["ETag"]})
    assert unchanged.status_code == 304


def test_room_and_clinic_feeds_are_in_the_clinics_language(client, clinic):
    get_settings().default_locale = "it"
    db.session.commit()
    speaks(clinic.receptionist, "en")
    reception = Api(client, clinic.receptionist.email)
    book_face(reception, at(monday_in(3), 10), practitioner_id=clinic.anna.id, patient_id=clinic.patient.id)
    calendar = Calendar.from_ical(client.get(feed_url(reception, "clinic")).data)
    assert str(calendar["X-WR-CALNAME"]) == "Test Clinic · tutti gli appuntamenti"
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")][-1] == "P. P. · Mesotherapy, face"
    room = Calendar.from_ical(client.get(feed_url(reception, "room", clinic.room.id)).data)
    assert str(room["X-WR-CALNAME"]) == "Test Clinic · Sala Verde"


# --- the snapshot: an Italian patient's invite mail and its .ics ----------------------
@pytest.fixture
def mail_app():
    """An app context for the outbox session; nothing is flushed, so no tables are needed."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _queued() -> list[OutboxMessage]:
    queued = [m for m in db.session.new if isinstance(m, OutboxMessage)]
    db.session.expunge_all()
    return queued


def test_an_italian_patients_invite_mail_and_ics_match_their_snapshots(mail_app):
    settings, treatment, patient = _clinic(False), _treatment(), _patient()
    patient.locale = "it"
    notifications.queue_invite(_appointment(treatment, patient), settings, "booked", mail=MailRenderer(BASE))
    (message,) = _queued()
    check_snapshot("booked_it.subject", message.subject + "\n")
    check_snapshot("booked_it.txt", message.body_text)
    check_snapshot("booked_it.html", message.body_html)
    # DTSTAMP is when the invite was written, the rest is fixed; kept with LF line ends (a text
    # snapshot), CRLF is checked by assert_valid_ics below.
    check_snapshot("booked_it.ics", re.sub(r"DTSTAMP:\d{8}T\d{6}Z", "DTSTAMP:20270301T120000Z",
                                           message.ics).replace("\r\n", "\n"))
    assert message.subject == "Prenotato: Appuntamento presso Villa Rosa, mar 30 mar 2027, 10:00 (Europe/Rome)"
    calendar = assert_valid_ics(message.ics.encode(), itip="REQUEST")
    assert str(calendar["METHOD"]) == "REQUEST" and message.ics_method == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Appuntamento presso Villa Rosa"
    assert event["SUMMARY"].params["LANGUAGE"] == "it" and event["DESCRIPTION"].params["LANGUAGE"] == "it"
    assert str(event["DESCRIPTION"]) == (
        "Come prepararti: accedi per vedere i passi: https://clinic.example/me\n\n"
        "Gestisci la tua prenotazione: https://clinic.example/me\nDomande? Chiama il +39 06 1234 5678")
    assert event.decoded("DTSTART") == datetime(2027, 3, 30, 10, 0, tzinfo=TZ)
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)
    # Discreet in Italian too: neither the treatment nor a prep step anywhere.
    for secret in ("Mesotherapy", "aspirin", "alcohol"):
        assert secret not in message.ics + message.body_text + message.body_html + message.subject
    text = message.body_text
    assert "mar 30 mar 2027, 10:00 (Europe/Rome)" in text and "Hello" not in text and "Manage" not in text


def test_an_english_patients_invite_is_unchanged_by_the_languages(mail_app):
    settings, treatment, patient = _clinic(False), _treatment(), _patient()
    patient.locale = "en"
    notifications.queue_invite(_appointment(treatment, patient), settings, "booked", mail=MailRenderer(BASE))
    (message,) = _queued()
    check_snapshot("booked.txt", message.body_text)  # the English snapshot of test_mail_snapshots
    assert message.subject == "Booked: Appointment at Villa Rosa, Tue 30 Mar 2027, 10:00 (Europe/Rome)"


# --- no English left in any Italian mail ------------------------------------------------------
def english_left(text: str) -> list[str]:
    return sorted(fragment for fragment in english_fragments() if fragment in text)


@pytest.mark.parametrize("named", [False, True], ids=["discreet", "named"])
@pytest.mark.parametrize("kind", ["booked", "moved", "cancelled", "series_booked", "reminder", "prep_reminder",
                                  "registration_attempt"])
def test_every_notification_reaches_an_italian_reader_without_english(mail_app, kind, named):
    messages = _queue(kind, named, "it")
    assert messages
    for message in messages:
        everything = "\n".join((message.subject, message.body_text, message.body_html, message.ics or ""))
        assert english_left(everything) == [], (message.kind, english_left(everything))
        assert '<html lang="it">' in message.body_html and message.body_text.startswith("Ciao Anna Rossi,")
    if kind == "series_booked" and named:
        assert "mar 30 mar, 10:00: Seduta 1" in messages[0].body_text  # the timeline's own words too
    english = _queue(kind, named, "en")
    assert [m.subject for m in english] != [m.subject for m in messages]


def test_offer_recall_waitlist_and_prep_mails_render_in_italian_without_english(mail_app):
    settings, treatment, patient, mail = _clinic(True), _treatment(), _patient(), MailRenderer(BASE)
    patient.locale = "it"
    until = datetime(2027, 3, 28, 18, 0, tzinfo=TZ)
    times = [notifications.at_time(datetime(2027, 3, 30, 8, 0, tzinfo=UTC), settings)]
    rendered = {}
    with written_for(patient, settings):
        for kind in ("replan", "waitlist"):
            rendered[f"offer-{kind}"] = mail.render(
                "offer", offer=Offer(kind=kind, patient=patient), times=times * 2, link=f"{BASE}/offers/x",
                clinic=settings, named=True, until=until, manage_url=mail.manage_url, moving=times[0])
        for step in ("invite", "reminder"):
            rendered[f"recall-{step}"] = mail.render(
                "recall", recall=Recall(patient=patient, treatment=treatment), clinic=settings, step=step,
                link=f"{BASE}/me/maintenance/1", named=True, manage_url=mail.manage_url, due=date(2027, 4, 5))
        rendered["waitlist"] = mail.render("waitlist_offer", offer=Offer(kind="waitlist"), patient=patient,
                                           times=times, link=f"{BASE}/offers/x", clinic=settings, named=True,
                                           until=until)
        appointment = _appointment(treatment, patient)
        rendered["prep_confirm"] = mail.render(
            "prep_confirm", appointment=appointment, clinic=settings, when=notifications.when(appointment, settings),
            link=f"{BASE}/prep/x", manage_url=mail.manage_url, named=True, answer_by=until,
            steps=[Step("prep-1", "Stop aspirin and NSAIDs", until)])
        rendered["aftercare"] = mail.render(
            "aftercare", appointment=appointment, clinic=settings, when=notifications.when(appointment, settings),
            manage_url=mail.manage_url, named=True, steps=[AftercareStep("No sauna", 48)])
    for name, (text, html) in rendered.items():
        assert english_left(text + html) == [], (name, english_left(text + html))
        assert text.startswith("Ciao Anna Rossi,"), name
    assert "Teniamo per te questi orari:" in rendered["offer-replan"][0]
    assert "Lo teniamo per te fino a dom 28 mar, 18:00." in rendered["offer-replan"][0]
    assert "è da fissare a partire dal 05 aprile 2027." in rendered["recall-invite"][0]
    assert "Rispondi entro dom 28 mar, 18:00." in rendered["prep_confirm"][0]
    assert "- No sauna (2 giorni)" in rendered["aftercare"][0]
