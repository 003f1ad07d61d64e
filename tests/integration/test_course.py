"""The course after booking (issue 14): prep confirmed before each session, reception's call
list, aftercare after it, the recall to maintenance, and prepaid course counts; on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, OutboxMessage, PrepCheck, Recall, Series
from booking.models.course import AftercareRule
from booking.scheduling.clock import local_date
from booking.services import changes, course, recall as recalls, reception
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from booking.services.errors import RuleViolation
from tests.integration.clinic import TZ, at, book_consultation, build_clinic, monday_in

@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    protocol = clinic.face.protocol
    protocol.prep_confirm_hours, protocol.prep_answer_by_hours = 72, 24
    protocol.maintenance_interval_days = 90
    protocol.aftercare_rules = [AftercareRule(instruction="No make-up", hours=12),
                                AftercareRule(instruction="No sauna or swimming", hours=48)]
    db.session.commit()
    return clinic


def book_face_series(clinic, first, *, gap_days=21, patient=None, now=None):
    """Four face sessions from ``first``, ``gap_days`` apart, with a consultation before."""
    patient = patient or clinic.patient
    book_consultation(clinic, patient, first - timedelta(days=7))
    sessions = [SessionRequest(first + timedelta(days=gap_days * i), clinic.anna.id) for i in range(4)]
    return booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                       sessions=sessions, patient_id=patient.id, now=now)


def mails(kind):
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def secret_in(message) -> str:
    return re.search(r"/prep/([A-Za-z0-9_-]+)", message.body_text).group(1)


def test_prep_check_is_asked_once_and_not_done_offers_only_valid_times_that_keep_the_series(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    now = first.start_at - timedelta(hours=71)
    assert course.queue_prep_checks(now - timedelta(hours=2)) == 0  # not yet: 72 h before
    assert course.queue_prep_checks(now) == 1
    assert course.queue_prep_checks(now + timedelta(minutes=5)) == 0  # exactly once
    (message,) = mails("prep.confirm")
    assert message.appointment_id == first.id and "Stop aspirin" not in message.body_text  # discreet
    secret = secret_in(message)
    stored = db.session.scalar(select(PrepCheck).where(PrepCheck.appointment_id == first.id))
    assert stored.link_hash != secret and secret not in stored.link_hash  # only a hash is kept

    sheet = course.checklist_by_link(secret, now=now)
    keys = [s.key for s in sheet.steps]
    assert [s.instruction for s in sheet.steps] == ["Stop aspirin and NSAIDs", "No alcohol"]
    assert sheet.status == "pending"

    answered = course.answer_by_link(secret, {keys[0]: "not_done", keys[1]: "done"}, now=now)
    assert answered.status == "needs_attention"
    assert answered.alternatives, "the series window leaves room to move the first session"
    longest_lead = timedelta(days=7)
    second = series.appointments[1].start_at
    for slot in answered.alternatives:
        assert slot.start >= now + longest_lead  # enough time to prepare from now
        assert slot.start <= second - timedelta(days=10)  # the next session keeps its interval
    # Moving to the first offered time is accepted by the same rules, and the series stays valid.
    chosen = answered.alternatives[0]
    moved = changes.reschedule(Actor.of(clinic.patient), first.id, start=chosen.start,
                               practitioner_id=chosen.practitioner_id, now=now)
    assert moved.start_at == chosen.start and moved.ical_sequence == 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "prep.answered")).one()
    assert event.after["status"] == "needs_attention" and event.after["via"] == "link"

    # The link works once.
    with pytest.raises(course.LinkRefused, match="not valid any more|used already"):
        course.checklist_by_link(secret, now=now)


def test_a_used_or_expired_link_is_refused_with_a_clear_page(client, clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    now = first.start_at - timedelta(hours=60)
    course.queue_prep_checks(now)
    secret = secret_in(mails("prep.confirm")[0])
    with pytest.raises(course.LinkRefused, match="expired"):
        course.checklist_by_link(secret, now=first.start_at + timedelta(minutes=1))  # past the start
    page = client.get(f"/prep/{secret}")
    assert page.status_code == 200 and "Stop aspirin and NSAIDs" in page.get_data(as_text=True)
    keys = [s.key for s in course.checklist_by_link(secret, now=now).steps]
    course.answer_by_link(secret, {k: "done" for k in keys}, now=now)
    again = client.get(f"/prep/{secret}")
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    assert client.get("/prep/not-a-real-link").status_code == 410


def test_bad_answers_are_refused_and_nothing_is_written(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    now = first.start_at - timedelta(hours=60)
    patient = Actor.of(clinic.patient)
    from booking.services.errors import InvalidRequest

    for bad in ({}, {"prep-999": "done"}, {s.key: "maybe" for s in course.steps_of(first)}):
        with pytest.raises(InvalidRequest):
            course.answer_prep(patient, first.id, bad, now=now)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PrepCheck)) == 0
    with pytest.raises(Exception):  # another patient's session is not theirs to answer
        course.answer_prep(Actor.of(clinic.other_patient), first.id, {}, now=now)


def test_unanswered_checks_reach_the_call_list_and_answers_take_them_off(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    other = book_face_series(clinic, at(monday_in(4), 14), patient=clinic.other_patient).appointments[0]
    asked = first.start_at - timedelta(hours=70)
    course.queue_prep_checks(asked)
    assert course.calls_due(asked) == []  # asked, not overdue yet
    overdue = other.start_at - timedelta(hours=23)  # past both answer-by times
    calls = {c.appointment.id: c.why for c in course.calls_due(overdue)}
    assert calls == {first.id: "no_answer", other.id: "no_answer"}
    keys = [s.key for s in course.steps_of(first)]
    course.answer_prep(Actor.of(clinic.patient), first.id, {k: "done" for k in keys}, now=overdue)
    course.answer_prep(Actor.of(clinic.other_patient), other.id, {keys[0]: "done", keys[1]: "not_done"}, now=overdue)
    calls = {c.appointment.id: c.why for c in course.calls_due(overdue)}
    assert calls == {other.id: "not_prepared"}
    assert course.prep_states([first.id, other.id]) == {first.id: "prepared", other.id: "needs_attention"}
    # A moved session starts afresh: its old answer no longer counts.
    course.answer_prep(Actor.of(clinic.other_patient), other.id, {k: "done" for k in keys}, callback=True,
                       now=overdue)
    assert {c.appointment.id: c.why for c in course.calls_due(overdue)} == {other.id: "callback"}
    assert mails("patient.callback")


def test_completing_a_session_queues_its_aftercare_once_and_the_portal_shows_what_applies(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    desk = Actor.of(clinic.receptionist)
    after = first.start_at + timedelta(minutes=40)
    reception.change_status(desk, first.id, "complete", now=after)
    (message,) = mails("aftercare")
    assert message.appointment_id == first.id and "sauna" not in message.body_text.lower()  # discreet
    course.session_completed(db.session.get(Appointment, first.id))  # a second call changes nothing
    db.session.commit()
    assert len(mails("aftercare")) == 1
    applying = course.aftercare_now(clinic.patient.id, now=first.end_at + timedelta(hours=13))
    assert [step.instruction for _, step, _ in applying] == ["No sauna or swimming"]  # make-up ended at 12 h
    assert applying[0][2] == first.end_at + timedelta(hours=48)


def test_the_last_completed_session_puts_the_patient_on_the_recall_list_at_the_right_date(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    desk = Actor.of(clinic.receptionist)
    for appointment in series.appointments:
        reception.change_status(desk, appointment.id, "complete", now=appointment.end_at)
    db.session.expire_all()
    assert db.session.get(Series, series.id).status == "completed"
    (recall,) = db.session.scalars(select(Recall)).all()
    last = series.appointments[-1]
    assert recall.due_on == local_date(last.start_at, "Europe/Rome") + timedelta(days=90)
    day_before_invite = at(recall.due_on - timedelta(days=15), 9)
    assert recalls.queue_recalls(day_before_invite).invited == 0
    invite_day = at(recall.due_on - timedelta(days=14), 9)
    assert recalls.queue_recalls(invite_day).invited == 1
    assert recalls.queue_recalls(invite_day + timedelta(hours=1)).invited == 0  # exactly once
    assert len(mails("recall.invite")) == 1 and f"/me/maintenance/{recall.id}" in mails("recall.invite")[0].body_text
    assert [r.standing for r in recalls.recall_list(invite_day)] == ["due"]
    assert recalls.queue_recalls(invite_day + timedelta(days=14)).reminded == 1
    assert recalls.queue_recalls(invite_day + timedelta(days=30)).reminded == 0  # reminded once only
    assert len(mails("recall.reminder")) == 1
    assert [r.standing for r in recalls.recall_list(at(recall.due_on + timedelta(days=1), 9))] == ["overdue"]


def test_a_maintenance_booking_after_the_consultations_validity_needs_a_new_consultation_first(clinic):
    # A series completed long ago: the consultation before it is older than 180 days by now.
    first = at(monday_in(-40), 10)
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    series = Series(patient_id=clinic.patient.id, treatment_id=clinic.face.id, status="active")
    db.session.add(series)
    db.session.flush()
    for i in range(4):
        appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id,
                                  room_id=clinic.room.id, treatment_id=clinic.face.id, status="completed",
                                  series_id=series.id, series_index=i)
        appointment.place(first + timedelta(days=14 * i), 30, 0, 10)
        db.session.add(appointment)
    db.session.flush()
    series.status = "completed"
    recall = recalls.series_ended(series)
    db.session.commit()
    patient = Actor.of(clinic.patient)
    proposal = recalls.propose_maintenance(patient, recall.id)
    assert proposal.consultation is not None and proposal.session is not None
    assert "consultation" in proposal.why
    assert proposal.session.start >= proposal.consultation.start + timedelta(days=2)
    # The session alone is refused by the rule book: the old consultation no longer counts.
    with pytest.raises(RuleViolation) as refused:
        booking_service.book_appointment(patient, treatment_slug="mesotherapy-face", start=proposal.session.start,
                                         practitioner_id=proposal.session.practitioner_id)
    assert "consultation_required" in [p.code for p in refused.value.problems]
    made = recalls.book_maintenance(patient, recall.id, session_start=proposal.session.start,
                                    session_practitioner_id=proposal.session.practitioner_id,
                                    consultation_start=proposal.consultation.start,
                                    consultation_practitioner_id=proposal.consultation.practitioner_id)
    assert [a.treatment_id for a in made] == [clinic.consultation.id, clinic.face.id]
    db.session.expire_all()
    assert db.session.get(Recall, recall.id).status == "booked"


def test_prepaid_course_counts_stay_right_through_cancel_rebook_and_no_show(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    desk = Actor.of(clinic.receptionist)
    course.set_course(desk, series.id, sessions=4, expires_on=local_date(series.appointments[-1].start_at, "Europe/Rome"))
    count = course.course_of_series(db.session.get(Series, series.id))
    assert (count.total, count.used, count.booked, count.remaining) == (4, 0, 4, 0)
    first, second = series.appointments[0], series.appointments[1]
    reception.change_status(desk, first.id, "complete", now=first.end_at)
    reception.change_status(desk, second.id, "no_show", now=second.end_at)  # a missed session is used
    third = series.appointments[2]
    changes.cancel(desk, third.id, reason="patient asked", now=third.start_at - timedelta(days=5))
    count = course.course_of_series(db.session.get(Series, series.id))
    assert (count.used, count.booked, count.remaining) == (2, 1, 1)
    warning = course.course_warning_for(series.id, adding=2, on=local_date(third.start_at, "Europe/Rome"))
    assert warning and "1 of 4" in warning
    assert course.course_warning_for(series.id, adding=1, on=local_date(third.start_at, "Europe/Rome")) is None
    assert "expires" in course.course_warning_for(
        series.id, adding=1, on=local_date(series.appointments[-1].start_at, "Europe/Rome") + timedelta(days=1))


def test_each_message_kind_can_be_turned_off(clinic):
    from booking.services.clinic import get_settings

    get_settings().messages_off = ["prep.confirm", "aftercare"]
    db.session.commit()
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    assert course.queue_prep_checks(first.start_at - timedelta(hours=60)) == 1  # asked in the portal ...
    assert mails("prep.confirm") == []  # ... without a message
    reception.change_status(Actor.of(clinic.receptionist), first.id, "complete", now=first.end_at)
    assert mails("aftercare") == []


def test_times_in_messages_are_in_the_clinic_time_zone(clinic):
    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    course.queue_prep_checks(first.start_at - timedelta(hours=60))
    (message,) = mails("prep.confirm")
    local = first.start_at.astimezone(TZ)
    assert f"{local:%H:%M}" == "10:00" and "10:00" in message.body_text
    assert "by " + (first.start_at - timedelta(hours=24)).astimezone(TZ).strftime("%a %d %b, %H:%M") in message.body_text


def test_the_api_reads_and_answers_the_prep_checklist(client, clinic):
    from tests.integration.clinic import Api

    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    api = Api(client, clinic.patient.email)
    sheet = api.get(f"/appointments/{first.id}/prep").get_json()
    assert sheet["status"] == "pending" and [s["instruction"] for s in sheet["steps"]] == [
        "Stop aspirin and NSAIDs", "No alcohol"]
    keys = [s["key"] for s in sheet["steps"]]
    bad = api.client.put(f"/api/v1/appointments/{first.id}/prep", json={"answers": {keys[0]: "maybe"}},
                         headers=api.headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"]
    missing = api.client.put(f"/api/v1/appointments/{first.id}/prep", json={"answers": {keys[0]: "done"}},
                             headers=api.headers)
    assert missing.status_code == 400 and "no answer" in missing.get_json()["error"]["message"]
    answered = api.client.put(f"/api/v1/appointments/{first.id}/prep",
                              json={"answers": {keys[0]: "not_done", keys[1]: "done"}}, headers=api.headers)
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert body["status"] == "needs_attention" and body["alternatives"]
    # Each alternative is a valid PATCH.
    alternative = body["alternatives"][0]
    moved = api.patch(f"/appointments/{first.id}", json={"start": alternative["start"],
                                                         "practitioner_id": alternative["practitioner_id"]})
    assert moved.status_code == 200, moved.get_json()
    other = Api(client, clinic.other_patient.email)
    assert other.get(f"/appointments/{first.id}/prep").status_code == 404


def test_the_patients_feed_shows_aftercare_as_all_day_events_after_a_completed_session(client, clinic):
    from icalendar import Calendar

    from booking.services import feed_links

    first_start = at(monday_in(-1), 10)  # booked weeks ago, given last week
    series = book_face_series(clinic, first_start, now=first_start - timedelta(days=20))
    first = series.appointments[0]
    reception.change_status(Actor.of(clinic.receptionist), first.id, "complete", now=first.end_at)
    secret, _ = feed_links.create_feed(Actor.of(clinic.patient), "patient", clinic.patient.id)
    body = client.get(f"/feeds/{secret}.ics").get_data()
    events = {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}
    rules = {r.instruction: r.id for r in clinic.face.protocol.aftercare_rules}
    sauna = events[f"aftercare-{rules['No sauna or swimming']}-{first.ical_uid}"]
    assert "Aftercare: No sauna or swimming" in str(sauna["SUMMARY"])
    start_day = first.end_at.astimezone(TZ).date()
    assert sauna["DTSTART"].dt == start_day and sauna["DTEND"].dt == start_day + timedelta(days=3)  # 48 h: 3 days
    assert f"aftercare-{rules['No make-up']}-{first.ical_uid}" in events
    second = series.appointments[1]
    assert not any(uid.startswith("aftercare-") and uid.endswith(second.ical_uid) for uid in events)  # not done yet


def test_the_course_command_asks_for_due_prep_confirmations_once(clinic, runner):
    from booking.models.base import utcnow

    start = (utcnow() + timedelta(hours=50)).astimezone(TZ).replace(minute=0, second=0, microsecond=0)
    book_consultation(clinic, clinic.patient, start - timedelta(days=10))
    appointment = booking_service.book_appointment(
        Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face", start=start, practitioner_id=clinic.anna.id,
        patient_id=clinic.patient.id, override_reason="phoned in late", now=start - timedelta(days=9))
    result = runner.invoke(args=["course", "run"])
    assert result.exit_code == 0, result.output
    assert "asked 1 prep confirmation(s)" in result.output
    assert runner.invoke(args=["course", "run"]).output.startswith("asked 0 prep confirmation(s)")
    assert [m.appointment_id for m in mails("prep.confirm")] == [appointment.id]


def test_the_admin_turns_message_kinds_off_and_on(client, clinic):
    from booking.services.clinic import get_settings
    from tests.integration.clinic import PASSWORD

    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "Prep confirmation requests before each session" in page
    assert page.count('type="checkbox"') >= 4 and page.count("checked") >= 4  # every kind is sent at first
    form = {"name": "Test Clinic", "timezone": "Europe/Rome", "horizon_days": 180, "min_notice_hours": 24,
            "cancel_cutoff_hours": 24, "slot_step_minutes": 15, "reminder_hours": 48, "primary_color": "#2f6f6a",
            "country": "IT", "region": "", "currency": "EUR", "messages_shown": "1",  # no phone: stored empty
            "messages_sent": ["prep.confirm", "recall.invite"]}
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.expire_all()
    assert sorted(get_settings().messages_off) == ["aftercare", "recall.reminder"]
    del form["messages_shown"], form["messages_sent"]  # an older form without the switches keeps them
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.expire_all()
    assert sorted(get_settings().messages_off) == ["aftercare", "recall.reminder"]
    form.update(messages_shown="1", messages_sent=["bogus"])
    assert client.post("/admin/settings", data=form).status_code == 400  # not a choice


def test_the_admin_sets_prep_confirmation_and_aftercare_steps_on_a_protocol(client, clinic):
    from tests.integration.clinic import PASSWORD

    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = client.get(f"/admin/treatments/{clinic.face.id}").get_data(as_text=True)
    assert "No sauna or swimming" in page and "Ask the patient to confirm their prep" in page
    bad = client.post(f"/admin/treatments/{clinic.face.id}/aftercare", data={"instruction": "No sun", "hours": "0"})
    assert bad.status_code == 400
    added = client.post(f"/admin/treatments/{clinic.face.id}/aftercare",
                        data={"instruction": "No sun exposure", "hours": "336"})
    assert added.status_code == 302
    db.session.expire_all()
    rules = {r.instruction: r for r in clinic.face.protocol.aftercare_rules}
    assert rules["No sun exposure"].hours == 336
    removed = client.post(f"/admin/aftercare/{rules['No make-up'].id}/delete")
    assert removed.status_code == 302
    db.session.expire_all()
    assert "No make-up" not in {r.instruction for r in clinic.face.protocol.aftercare_rules}
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "catalog.aftercare_rule_added", "catalog.aftercare_rule_removed"}


def test_booking_past_a_prepaid_course_tells_the_patient_to_call_and_staff_go_ahead_only_with_a_reason(clinic):
    from booking.services import patient_bookings

    series = book_face_series(clinic, at(monday_in(4), 10))
    desk, patient = Actor.of(clinic.receptionist), Actor.of(clinic.patient)
    last = series.appointments[-1]
    expires = local_date(last.start_at, "Europe/Rome")
    course.set_course(desk, series.id, sessions=3, expires_on=expires)  # one session fewer than booked
    third = series.appointments[2]
    moved_at = third.start_at - timedelta(days=7)
    changes.cancel(desk, third.id, reason="patient asked", now=moved_at)
    options = patient_bookings.rebook_options(patient, third.id, now=moved_at)
    assert options
    # 3 bought: 3 still booked (sessions 1, 2 and 4) before this rebooking -> none left.
    with pytest.raises(RuleViolation) as refused:
        patient_bookings.rebook(patient, third.id, start=options[0].start, practitioner_id=options[0].practitioner_id,
                                now=moved_at)
    (problem,) = [p for p in refused.value.problems if p.code == "course_exceeded"]
    assert "contact the clinic" in problem.message and "0 of 3" in problem.message
    # Moving the last session past the expiry date is refused to the patient, too.
    later = last.start_at + timedelta(days=2)
    with pytest.raises(RuleViolation) as refused:
        changes.reschedule(patient, last.id, start=later, now=moved_at)
    assert "course_exceeded" in [p.code for p in refused.value.problems]
    # Staff are warned the same way, and go ahead only with a reason (audited with the override).
    with pytest.raises(RuleViolation):
        changes.reschedule(desk, last.id, start=later, now=moved_at)
    moved = changes.reschedule(desk, last.id, start=later, override_reason="Course extended by phone", now=moved_at)
    assert moved.start_at == later
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.moved")
                               .order_by(AuditEvent.id.desc())).first()
    assert "course_exceeded" in (event.after or {}).get("overridden", []) and event.reason == "Course extended by phone"


def test_prep_answers_read_as_sentences_in_the_audit_log(client, clinic):
    from tests.integration.clinic import PASSWORD

    series = book_face_series(clinic, at(monday_in(4), 10))
    first = series.appointments[0]
    keys = [s.key for s in course.steps_of(first)]
    course.answer_prep(Actor.of(clinic.patient), first.id, {keys[0]: "not_done", keys[1]: "done"},
                       now=first.start_at - timedelta(hours=50))
    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = client.get("/admin/audit?action=prep").get_data(as_text=True)
    assert "Paola Patient answered the prep checklist for their Mesotherapy, face (session 1)" in page
    assert "a step not done" in page


def test_reception_sees_the_prep_answer_on_the_calendar_the_day_sheet_and_the_panel(client, clinic):
    from tests.integration.clinic import PASSWORD

    series = book_face_series(clinic, at(monday_in(4), 10))
    first, second = series.appointments[0], series.appointments[1]
    keys = [s.key for s in course.steps_of(first)]
    now = first.start_at - timedelta(hours=50)
    course.answer_prep(Actor.of(clinic.patient), first.id, {k: "done" for k in keys}, now=now)
    course.answer_prep(Actor.of(clinic.patient), second.id, {keys[0]: "not_done", keys[1]: "done"}, now=now)
    assert client.post("/login", data={"email": clinic.receptionist.email, "password": PASSWORD}).status_code == 302
    day = first.start_at.astimezone(TZ).date()
    span = f"start={day - timedelta(days=1)}T00:00:00&end={day + timedelta(days=30)}T00:00:00"
    events = {e["id"]: e for e in client.get(f"/reception/api/events?by=practitioner&{span}").get_json()}
    assert events[str(first.id)]["title"].endswith("· prepared") and "prep-prepared" in events[str(first.id)]["classNames"]
    assert events[str(second.id)]["extendedProps"]["prep"] == "needs_attention"
    sheet = client.get(f"/reception/day-sheet?date={day}").get_data(as_text=True)
    assert '<strong class="prep-prepared">prepared</strong>' in sheet
    panel = client.get(f"/reception/appointments/{second.id}").get_data(as_text=True)
    assert "not prepared" in panel and f"/reception/patients/{clinic.patient.id}/course" in panel
    course_page = client.get(f"/reception/patients/{clinic.patient.id}/course").get_data(as_text=True)
    assert "not prepared" in course_page and "Save prepaid course" in course_page


def test_a_missed_session_is_rebooked_inside_its_window_and_a_passed_window_is_said(client, clinic):
    from booking.services import patient_bookings
    from tests.integration.clinic import PASSWORD

    first_start = at(monday_in(1), 10)
    series = book_face_series(clinic, first_start, gap_days=21, now=first_start - timedelta(days=20))
    first, second, third = series.appointments[0], series.appointments[1], series.appointments[2]
    desk, patient = Actor.of(clinic.receptionist), Actor.of(clinic.patient)
    reception.change_status(desk, first.id, "no_show", now=first.end_at)
    missed_at = first.end_at + timedelta(hours=1)
    view = course.course_view(clinic.patient.id, now=missed_at)
    (line,) = [l for l in view.series[0].sessions if l.index == 0]
    assert line.state == "missed" and not line.window_gone
    options = patient_bookings.rebook_options(patient, first.id, now=missed_at)
    last_day = local_date(second.start_at, "Europe/Rome") - timedelta(days=10)  # keeps the minimum interval
    assert options and all(local_date(o.start, "Europe/Rome") <= last_day for o in options)
    rebooked = patient_bookings.rebook(patient, first.id, start=options[-1].start,
                                       practitioner_id=options[-1].practitioner_id, now=missed_at)
    assert rebooked.series_id == series.id and rebooked.series_index == 0
    view = course.course_view(clinic.patient.id, now=missed_at)
    assert [l.state for l in view.series[0].sessions] == ["booked", "booked", "booked", "booked"]
    # Session 2 missed too; once its window (before session 3 minus the minimum interval) has
    # passed the course view says the series needs re-planning.
    reception.change_status(desk, second.id, "no_show", now=second.end_at)
    late = third.start_at - timedelta(days=9)
    view = course.course_view(clinic.patient.id, now=late)
    assert view.series[0].window_gone
    assert client.post("/login", data={"email": clinic.patient.email, "password": PASSWORD}).status_code == 302
    page = client.get("/me/course").get_data(as_text=True)
    assert f"/me/appointments/{second.id}/rebook" in page  # today (before the window ends) it can be rebooked


def test_my_appointments_shows_aftercare_today_and_the_prep_checklist(client, clinic):
    from tests.integration.clinic import PASSWORD

    done_start = at(monday_in(0), 10) - timedelta(days=3)  # a session given three days ago ...
    book_consultation(clinic, clinic.patient, done_start - timedelta(days=9))
    given = booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                             start=done_start, practitioner_id=clinic.anna.id,
                                             patient_id=clinic.patient.id, override_reason="test history",
                                             now=done_start - timedelta(days=8))
    clinic.face.protocol.aftercare_rules.append(AftercareRule(instruction="No sun exposure", hours=24 * 14))
    db.session.commit()
    reception.change_status(Actor.of(clinic.receptionist), given.id, "complete", now=given.end_at)
    series = book_face_series(clinic, at(monday_in(4), 10))
    assert client.post("/login", data={"email": clinic.patient.email, "password": PASSWORD}).status_code == 302
    page = client.get("/me").get_data(as_text=True)
    assert "Aftercare that applies today" in page and "No sun exposure" in page  # ... 14 days of it
    assert "No make-up" not in page  # 12 hours: over
    assert f"/me/appointments/{series.appointments[0].id}/prep" in page and "/me/course" in page


def test_a_missed_session_whose_window_has_passed_is_booked_again_and_the_later_sessions_re_planned(clinic):
    from booking.services import patient_bookings

    first_start = at(monday_in(1), 10)
    series = book_face_series(clinic, first_start, gap_days=14, now=first_start - timedelta(days=20))
    first = series.appointments[0]
    later = [a for a in series.appointments[1:]]
    later_uids = {a.id: (a.ical_uid, a.ical_sequence, a.start_at) for a in later}
    desk, patient = Actor.of(clinic.receptionist), Actor.of(clinic.patient)
    reception.change_status(desk, first.id, "no_show", now=first.end_at)
    missed_at = first.end_at + timedelta(hours=1)
    # Session 2 is 14 days later and needs 10 days' gap; the prep needs 7 days from now: no time fits.
    assert patient_bookings.rebook_options(patient, first.id, now=missed_at) == []
    assert course.course_view(clinic.patient.id, now=missed_at).series[0].window_gone
    options = patient_bookings.rebook_options(patient, first.id, now=missed_at, replan_following=True)
    assert options and min(o.start for o in options) >= missed_at + timedelta(days=7)  # prep from now
    chosen = options[0]
    patient_bookings.rebook(patient, first.id, start=chosen.start, practitioner_id=chosen.practitioner_id,
                            now=missed_at, replan_following=True)
    db.session.expire_all()
    moved = [db.session.get(Appointment, a.id) for a in later]
    starts = [chosen.start] + [a.start_at for a in moved]
    gaps = [(local_date(b, "Europe/Rome") - local_date(a, "Europe/Rome")).days for a, b in zip(starts, starts[1:])]
    assert all(10 <= g <= 21 for g in gaps), gaps  # the protocol's spacing holds again
    for a in moved:
        uid, sequence, start = later_uids[a.id]
        assert a.ical_uid == uid and (a.start_at == start or a.ical_sequence == sequence + 1)
    assert any(a.start_at != later_uids[a.id][2] for a in moved)
    assert course.course_view(clinic.patient.id, now=missed_at).series[0].window_gone is False
