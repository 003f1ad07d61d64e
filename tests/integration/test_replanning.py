"""Absence re-planning (issue 15): a practitioner's two days off strand their appointments; each
gets the best new time inside its series window (checked here by the rule book's own move, with no
override), or says why it cannot; "apply all" moves them in one transaction with the staff reason
(same UIDs, SEQUENCE + 1, one updated invite each), or nothing; offers go to the patients and an
accepted one moves exactly that appointment; an expired one comes back to reception's list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import HELD, Appointment, AuditEvent, Intake, Offer, OutboxMessage, Practitioner
from booking.models.base import utcnow
from booking.services import booking as booking_service
from booking.services import changes, offers, replanning, schedule_admin
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from booking.services.errors import InvalidRequest
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_user


@pytest.fixture
def clinic(app):
    return build_clinic()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def consultation(clinic, patient, start, practitioner=None):
    return booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="consultation",
                                            start=start, practitioner_id=(practitioner or clinic.anna).id,
                                            patient_id=patient.id)


def face_series(clinic, first, gap_days=14):
    """Paola's four face sessions with Anna from ``first``."""
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    sessions = [SessionRequest(first + timedelta(days=gap_days * i), clinic.anna.id) for i in range(4)]
    return booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                       sessions=sessions, patient_id=clinic.patient.id)


def time_off(clinic, first_day, days):
    return schedule_admin.add_time_off(Actor.of(clinic.admin), clinic.anna.id, start=at(first_day, 0),
                                       end=at(first_day + timedelta(days=days), 0), reason="Sick")


def absence(clinic):
    """Anna's Monday and Tuesday off in three weeks, with a face session and four consultations."""
    monday = monday_in(3)
    series = face_series(clinic, at(monday, 11))
    booked = [consultation(clinic, clinic.other_patient, at(monday, 9)),
              consultation(clinic, clinic.other_patient, at(monday, 15)),
              consultation(clinic, clinic.patient, at(monday + timedelta(days=1), 10)),
              consultation(clinic, clinic.other_patient, at(monday + timedelta(days=1), 16, 30))]
    left = time_off(clinic, monday, 2)
    return monday, series, booked, left


def test_two_days_off_re_plan_every_session_inside_its_window(clinic):
    monday, series, booked, left = absence(clinic)
    stranded_ids = {s.appointment.id for s in left}
    assert stranded_ids == {series.appointments[0].id, *(a.id for a in booked)}
    actor = Actor.of(clinic.receptionist)
    found = replanning.proposals(actor, practitioner_id=clinic.anna.id)
    assert {p.appointment.id for p in found} == stranded_ids
    assert count(Appointment, Appointment.status == HELD) == 0  # proposing books nothing
    starts = [p.best.start for p in found]
    assert len(set(starts)) == len(starts)  # no two proposals want the same time
    for p in found:
        assert p.best is not None, p.why_not
        assert len(p.alternatives) == 3 and p.best not in p.alternatives
        # Same practitioner first: Anna is back on Wednesday; same time of day preferred.
        assert p.best.practitioner_id == clinic.anna.id
        assert p.best.start.astimezone(TZ).time() == p.appointment.start_at.astimezone(TZ).time()
        assert p.best.start.astimezone(TZ).date() not in (monday, monday + timedelta(days=1))
    face = next(p for p in found if p.appointment.series_id == series.id)
    assert face.best.start < series.appointments[1].start_at - timedelta(days=9)  # spacing with the next
    # The rule book's own check: every proposal is a move reception could make without override.
    for p in found:
        changes.reschedule(actor, p.appointment.id, start=p.best.start, practitioner_id=p.best.practitioner_id)
    assert replanning.stranded_appointments(practitioner_id=clinic.anna.id) == []


def test_an_appointment_with_no_time_left_in_its_window_says_why(clinic):
    monday = monday_in(3)
    series = face_series(clinic, at(monday, 11))
    # Anna and Bruno both away for the whole window of the second session (10..21 days after the first).
    second_day = series.appointments[1].start_at.astimezone(TZ).date()
    for person in (clinic.anna, clinic.bruno):
        schedule_admin.add_time_off(Actor.of(clinic.admin), person.id, start=at(monday + timedelta(days=9), 0),
                                    end=at(monday + timedelta(days=22), 0), reason="Congress")
    found = replanning.proposals(Actor.of(clinic.receptionist), first_day=second_day, last_day=second_day)
    assert [p.appointment.id for p in found] == [series.appointments[1].id]
    assert found[0].best is None and "No free time the rules allow inside its window" in found[0].why_not
    with pytest.raises(InvalidRequest):
        replanning.apply_all(Actor.of(clinic.receptionist), found, "Congress")


def test_apply_all_moves_them_in_one_transaction_with_the_reason(clinic):
    monday, series, booked, _ = absence(clinic)
    actor = Actor.of(clinic.receptionist)
    found = replanning.proposals(actor, practitioner_id=clinic.anna.id)
    before = {p.appointment.id: (p.appointment.ical_uid, p.appointment.ical_sequence) for p in found}
    with pytest.raises(InvalidRequest):
        replanning.apply_all(actor, found, "  ")
    moved = replanning.apply_all(actor, found, "Anna is ill")
    assert {a.id for a in moved} == set(before)
    for p in found:
        row = db.session.get(Appointment, p.appointment.id)
        assert (row.start_at, row.practitioner_id) == (p.best.start, p.best.practitioner_id)
        assert (row.ical_uid, row.ical_sequence) == (before[row.id][0], before[row.id][1] + 1)
        assert count(OutboxMessage, OutboxMessage.kind == "appointment.moved",
                     OutboxMessage.appointment_id == row.id) == 1
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "replan.applied",
                                                               AuditEvent.appointment_id == row.id)).all()
        assert event.reason == "Anna is ill" and event.actor_id == clinic.receptionist.id
    assert replanning.stranded_appointments(practitioner_id=clinic.anna.id) == []


def test_if_one_move_is_refused_nothing_moves_and_the_error_names_it(clinic):
    monday, series, booked, _ = absence(clinic)
    actor = Actor.of(clinic.receptionist)
    found = replanning.proposals(actor, practitioner_id=clinic.anna.id)
    # Someone takes the last proposal's time meanwhile: a conflict no reason overrides.
    last = found[-1]
    someone = make_user(name="Sam Someone", email="sam@example.com")
    db.session.add(Intake(patient_id=someone.id, answers={"pregnant": False}))
    db.session.commit()
    consultation(clinic, someone, last.best.start, practitioner=db.session.get(Practitioner, last.best.practitioner_id))
    starts = {p.appointment.id: p.appointment.start_at for p in found}
    with pytest.raises(replanning.ReplanFailed) as refused:
        replanning.apply_all(actor, found, "Anna is ill")
    assert refused.value.appointment_id == last.appointment.id
    assert last.appointment.patient.name in refused.value.message and "Nothing was moved" in refused.value.message
    db.session.rollback()
    for appointment_id, start in starts.items():
        assert db.session.get(Appointment, appointment_id).start_at == start
    assert count(AuditEvent, AuditEvent.action == "replan.applied") == 0
    assert count(OutboxMessage, OutboxMessage.kind == "appointment.moved") == 0


def test_offers_hold_times_and_an_accepted_one_moves_exactly_that_appointment(client, clinic):
    monday, series, booked, _ = absence(clinic)
    actor = Actor.of(clinic.receptionist)
    made, skipped = replanning.offer_all(actor, practitioner_id=clinic.anna.id)
    assert len(made) == 5 and skipped == []
    assert count(Offer, Offer.kind == "replan", Offer.status == "open") == 5
    assert count(Appointment, Appointment.status == HELD) >= 5
    # Offered appointments wait for the patient: no new proposal, no second offer.
    found = replanning.proposals(actor, practitioner_id=clinic.anna.id)
    assert all(p.offer is not None and p.best is None for p in found)
    assert replanning.offer_all(actor, found)[0] == []
    target = next(m for m in made if m.offer.appointment_id == booked[0].id)
    uid, sequence = booked[0].ical_uid, booked[0].ical_sequence
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "offer.replan",
                                                         OutboxMessage.dedupe_key == f"offer:{target.offer.id}"))
    secret = re.search(r"/offers/([A-Za-z0-9_-]+)", mail.body_text).group(1)
    hold = db.session.get(Offer, target.offer.id).holds[0]
    new_start = hold.start_at
    others = {a.id: a.start_at for a in [series.appointments[0], *booked[1:]]}
    assert client.post(f"/offers/{secret}", data={"hold": hold.id}).status_code == 200
    row = db.session.get(Appointment, booked[0].id)
    assert row.start_at == new_start and (row.ical_uid, row.ical_sequence) == (uid, sequence + 1)
    for appointment_id, start in others.items():
        assert db.session.get(Appointment, appointment_id).start_at == start
    assert count(OutboxMessage, OutboxMessage.kind == "appointment.moved") == 1
    ids = {p.appointment.id for p in replanning.proposals(actor, practitioner_id=clinic.anna.id)}
    assert booked[0].id not in ids and len(ids) == 4


def test_an_expired_or_declined_offer_comes_back_to_the_list(clinic):
    monday, series, booked, _ = absence(clinic)
    actor = Actor.of(clinic.receptionist)
    made, _ = replanning.offer_all(actor, practitioner_id=clinic.anna.id)
    assert replanning.returned_offers() == []
    lapsed = next(m.offer for m in made if m.offer.appointment_id == booked[1].id)
    db.session.get(Offer, lapsed.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert offers.expire_offers() == 1
    declined = next(m.offer for m in made if m.offer.appointment_id == booked[2].id)
    offers.decline(Actor.of(clinic.patient), declined.id)
    back = replanning.returned_offers()
    assert [(o.appointment_id, o.status) for o in back] == [(booked[1].id, "expired"), (booked[2].id, "declined")]
    found = {p.appointment.id: p for p in replanning.proposals(actor, practitioner_id=clinic.anna.id)}
    assert found[booked[1].id].best is not None and found[booked[1].id].offer is None  # proposed again
    assert found[booked[0].id].offer is not None  # still waiting
    # Offered again, it leaves the returned list.
    replanning.offer_all(actor, [found[booked[1].id]])
    assert [o.appointment_id for o in replanning.returned_offers()] == [booked[2].id]


def test_a_series_with_two_stranded_sessions_keeps_its_spacing(clinic):
    monday = monday_in(3)
    series = face_series(clinic, at(monday, 11))
    first, second = series.appointments[0], series.appointments[1]
    # Anna away from the first session to just after the second: both stranded, and the second
    # cannot simply follow the first to Anna's return (the third session bounds it).
    time_off(clinic, monday, 16)
    actor = Actor.of(clinic.receptionist)
    found = {p.appointment.id: p for p in replanning.proposals(actor)}
    assert set(found) == {first.id, second.id}
    a, b = found[first.id].best, found[second.id].best
    assert a is not None and b is not None, (found[first.id].why_not, found[second.id].why_not)
    assert 10 <= (b.start.astimezone(TZ).date() - a.start.astimezone(TZ).date()).days <= 21
    third = series.appointments[2].start_at
    assert 10 <= (third.astimezone(TZ).date() - b.start.astimezone(TZ).date()).days <= 21
    replanning.apply_all(actor, list(found.values()), "Anna away")
    moved = [db.session.get(Appointment, i) for i in (first.id, second.id)]
    assert [m.start_at for m in moved] == [a.start, b.start]
    assert [m.ical_sequence for m in moved] == [1, 1]
    # The moves needed no override: the rule book finds nothing wrong with the series now.
    assert all(m.override_reason is None for m in moved)


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_the_reception_screen_applies_chosen_times_or_offers_them(client, clinic):
    monday, series, booked, _ = absence(clinic)
    found = {p.appointment.id: p for p in replanning.proposals(Actor.of(clinic.receptionist))}
    login(client, clinic.practitioner_user)
    assert client.get("/reception/replan").status_code == 403
    client.post("/logout")
    login(client, clinic.receptionist)
    page = client.get(f"/reception/replan?practitioner={clinic.anna.id}&first_day=x").get_data(as_text=True)
    assert "To re-plan: 5" in page and "Anna Practitioner" in page and page.count('name="choice-') == 5
    assert "Re-plan stranded appointments" in client.get("/reception").get_data(as_text=True)
    choices = {f"choice-{i}": replanning_value(p.best) for i, p in found.items()}
    # Reception picks the second proposal for one row and leaves another alone.
    picked, left = booked[0].id, booked[1].id
    choices[f"choice-{picked}"] = replanning_value(found[picked].alternatives[0])
    choices[f"choice-{left}"] = "skip"
    refused = client.post("/reception/replan/apply", data=choices)
    assert refused.status_code == 400 and "Give a reason" in refused.get_data(as_text=True)
    garbled = client.post("/reception/replan/apply", data={**choices, f"choice-{picked}": "tomorrow@x", "reason": "Ill"})
    assert garbled.status_code == 400 and "not understood" in garbled.get_data(as_text=True)
    assert count(AuditEvent, AuditEvent.action == "replan.applied") == 0
    done = client.post("/reception/replan/apply", data={**choices, "reason": "Anna is ill"})
    assert done.status_code == 302
    assert db.session.get(Appointment, picked).start_at == found[picked].alternatives[0].start
    assert db.session.get(Appointment, left).start_at == booked[1].start_at
    assert count(AuditEvent, AuditEvent.action == "replan.applied") == 4
    # The one left alone is offered to its patient.
    assert client.post("/reception/replan/offer", data={}).status_code == 302
    assert [o.appointment_id for o in replanning.open_offers_list()] == [left]
    page = client.get("/reception/replan").get_data(as_text=True)
    assert "Offers waiting: 1" in page and "waiting for an answer" in page


def replanning_value(slot):
    from booking.web.reception.replan_routes import slot_value

    return slot_value(slot)
