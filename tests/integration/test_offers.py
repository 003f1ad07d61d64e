"""Offers (issue 15): held times offered to a patient, taken with one tap through a signed link
or the API; a move keeps the appointment's UID and raises its SEQUENCE with exactly one updated
invite; the other times are released; a second answer is refused clearly."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import HELD, Appointment, AuditEvent, Offer, OutboxMessage
from booking.models.base import utcnow
from booking.scheduling import Slot
from booking.services import booking as booking_service
from booking.services import offers
from booking.services.actor import Actor
from booking.services.errors import RuleViolation
from tests.integration.clinic import Api, at, build_clinic, monday_in
from tests.integration.test_concurrency import fresh_session, http_post, live_server, race  # noqa: F401


@pytest.fixture
def clinic(app):
    return build_clinic()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def consultation_for(clinic, patient, start):
    return booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="consultation",
                                            start=start, practitioner_id=clinic.anna.id, patient_id=patient.id)


def slots(clinic, *starts):
    return [Slot(s, s + timedelta(minutes=30), clinic.bruno.id, None) for s in starts]


def replan_offer(clinic, appointment, times):
    now = utcnow()
    made = offers.make_offer(Actor.of(clinic.receptionist), kind="replan", patient=appointment.patient,
                             treatment=appointment.treatment, slots=slots(clinic, *times), appointment=appointment,
                             expires_at=offers.offer_window("replan", now), now=now)
    db.session.commit()
    return made


def test_an_accepted_replan_offer_moves_the_appointment_with_one_updated_invite(client, clinic):
    day = monday_in(2)
    original = consultation_for(clinic, clinic.patient, at(day, 10))
    uid, sequence = original.ical_uid, original.ical_sequence
    times = [at(day + timedelta(days=1), 9), at(day + timedelta(days=1), 11), at(day + timedelta(days=2), 9)]
    made = replan_offer(clinic, original, times)
    assert made is not None and count(Appointment, Appointment.status == HELD) == 3
    (mail,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer.replan")).all()
    secret = re.search(r"/offers/([A-Za-z0-9_-]+)", mail.body_text).group(1)
    assert secret == made.secret and made.offer.link_hash != secret  # only a hash is stored
    # The held times are busy for everyone else.
    with pytest.raises(RuleViolation):
        booking_service.book_appointment(Actor.of(clinic.other_patient), treatment_slug="consultation",
                                         start=times[1], practitioner_id=clinic.bruno.id)
    db.session.rollback()
    page = client.get(f"/offers/{secret}")
    assert page.status_code == 200 and page.get_data(as_text=True).count('name="hold"') == 3
    hold_ids = [h.id for h in db.session.get(Offer, made.offer.id).holds]
    invites_before = count(OutboxMessage, OutboxMessage.kind == "appointment.moved")
    taken = client.post(f"/offers/{secret}", data={"hold": hold_ids[1]})
    assert taken.status_code == 200 and "Done: see you on" in taken.get_data(as_text=True)
    moved = db.session.get(Appointment, original.id)
    assert moved.start_at == times[1] and moved.practitioner_id == clinic.bruno.id
    assert moved.ical_uid == uid and moved.ical_sequence == sequence + 1
    assert count(Appointment, Appointment.status == HELD) == 0  # the other two released
    moved_mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "appointment.moved")).all()
    assert len(moved_mails) == invites_before + 1 == 1
    event = Calendar.from_ical(moved_mails[0].ics).walk("VEVENT")[0]
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == sequence + 1
    # A second answer is refused with a clear page; nothing changes.
    again = client.post(f"/offers/{secret}", data={"hold": hold_ids[0]})
    assert again.status_code == 409 and "accepted already" in again.get_data(as_text=True)
    assert db.session.get(Appointment, original.id).start_at == times[1]
    assert count(AuditEvent, AuditEvent.action == "offer.accepted") == 1


def test_a_declined_or_expired_offer_releases_its_times(client, clinic):
    day = monday_in(2)
    original = consultation_for(clinic, clinic.patient, at(day, 10))
    made = replan_offer(clinic, original, [at(day, 14)])
    api = Api(client, clinic.patient.email)
    listed = api.get("/offers").get_json()
    assert [o["id"] for o in listed] == [made.offer.id] and len(listed[0]["holds"]) == 1
    other = Api(client, clinic.other_patient.email)
    assert other.post(f"/offers/{made.offer.id}/accept").status_code == 404
    assert api.post(f"/offers/{made.offer.id}/decline").status_code == 200
    assert count(Appointment, Appointment.status == HELD) == 0
    assert api.post(f"/offers/{made.offer.id}/accept").status_code == 409
    # An offer that runs out answers 410 and gives its times back.
    second = replan_offer(clinic, db.session.get(Appointment, original.id), [at(day, 15)])
    db.session.get(Offer, second.offer.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    gone = api.post(f"/offers/{second.offer.id}/accept")
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "offer_expired"
    assert offers.expire_offers() == 1
    assert count(Appointment, Appointment.status == HELD) == 0
    assert db.session.get(Offer, second.offer.id).status == "expired"
    assert client.get(f"/offers/{second.secret}").status_code == 410


def test_two_taps_on_the_same_offer_at_once_move_the_appointment_once(app, client, clinic, live_server):  # noqa: F811
    from tests.integration.clinic import token_for

    day = monday_in(2)
    original = consultation_for(clinic, clinic.patient, at(day, 10))
    made = replan_offer(clinic, original, [at(day, 15), at(day, 16)])
    offer_id = made.offer.id
    token = token_for(client, clinic.patient.email)
    fresh_session()

    def contender(i, barrier):
        barrier.wait()
        return http_post(live_server, f"/offers/{offer_id}/accept", {}, token)

    results = race(4, contender)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409], results
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "offer_taken"
    fresh_session()
    assert count(OutboxMessage, OutboxMessage.kind == "appointment.moved") == 1
    assert db.session.get(Appointment, original.id).ical_sequence == 1
