"""The waitlist (issue 15): a freed time goes to the oldest matching request (held for it), and
on to the next when declined or lapsed; preferences and the latest date are respected; in the
"several" mode the first of several patients to accept books it and the others get a clear 409;
in a randomized run no offered time breaks a rule of the rule book; the API (201/200/204, bad
input 400, another patient's request 404) and the pages."""

from __future__ import annotations

import random
import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import HELD, Appointment, AuditEvent, Intake, Offer, OutboxMessage, WaitlistRequest
from booking.models.base import utcnow
from booking.scheduling import ProposedSession, check_booking
from booking.services import booking as booking_service
from booking.services import changes, offers, schedules, waitlist
from booking.services.actor import Actor
from booking.services.booking import assign_rooms
from booking.services.loading import load_context, patient_facts
from tests.integration.clinic import TZ, Api, at, build_clinic, monday_in, token_for
from tests.integration.factories import make_user
from tests.integration.test_concurrency import fresh_session, http_post, live_server, race  # noqa: F401


@pytest.fixture
def clinic(app):
    return build_clinic()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def new_patient(name: str):
    user = make_user(name=name)
    db.session.add(Intake(patient_id=user.id, answers={"pregnant": False}))
    db.session.commit()
    return user


def book(clinic, patient, start, practitioner):
    return booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="consultation",
                                            start=start, practitioner_id=practitioner.id, patient_id=patient.id)


def ask(patient, **prefs):
    return waitlist.create_request(Actor.of(patient), treatment_slug="consultation", **prefs)


def narrow(clinic, day):
    """Preferences that only Anna's 10:00-10:30 on ``day`` satisfies."""
    return dict(practitioner_ids=[clinic.anna.id], weekdays=[day.weekday()], from_time=time(10, 0),
                to_time=time(10, 30), latest=day)


def taken_at(clinic, day):
    """Anna's 10:00 on ``day`` booked (to be cancelled), and a week earlier too (stays booked):
    nothing fits ``narrow`` until the cancellation."""
    book(clinic, new_patient("Filler Patient"), at(day - timedelta(days=7), 10), clinic.anna)
    return book(clinic, new_patient("Carla Taker"), at(day, 10), clinic.anna)


def open_offer(request_id):
    db.session.rollback()
    return db.session.scalar(select(Offer).where(Offer.request_id == request_id, Offer.status == "open"))


def cancel(clinic, appointment):
    changes.cancel(Actor.of(clinic.receptionist), appointment.id, reason="patient rang")


def test_a_cancellation_offers_the_freed_time_to_the_oldest_matching_request_then_the_next(clinic):
    day = monday_in(2)
    taken = taken_at(clinic, day)
    first = ask(clinic.patient, **narrow(clinic, day))
    second = ask(clinic.other_patient, **narrow(clinic, day))
    # Nothing suits while the time is taken: the sweep offers nothing.
    assert waitlist.run() == (0, 0)
    assert count(Offer) == 0
    cancel(clinic, taken)
    offer = open_offer(first.id)
    assert offer is not None and open_offer(second.id) is None
    (hold,) = offer.holds
    assert hold.status == HELD and hold.start_at == at(day, 10) and hold.practitioner_id == clinic.anna.id
    assert db.session.get(WaitlistRequest, first.id).status == "offered"
    assert db.session.get(WaitlistRequest, second.id).status == "waiting"
    assert count(OutboxMessage, OutboxMessage.kind == "offer.waitlist") == 1
    assert count(AuditEvent, AuditEvent.action == "waitlist.offered") == 1
    # Declined: the time passes to the next request, held for it.
    offers.decline(Actor.of(clinic.patient), offer.id)
    passed = open_offer(second.id)
    assert passed is not None and [h.start_at for h in passed.holds] == [at(day, 10)]
    assert db.session.get(WaitlistRequest, first.id).status == "waiting"
    # It lapses: the time goes back and is not offered to the first request again.
    db.session.get(Offer, passed.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert offers.expire_offers() == 1
    assert count(Offer, Offer.status == "open") == 0
    assert count(Appointment, Appointment.status == HELD) == 0
    assert {db.session.get(WaitlistRequest, r.id).status for r in (first, second)} == {"waiting"}
    assert count(AuditEvent, AuditEvent.action == "waitlist.declined") == 1
    assert count(AuditEvent, AuditEvent.action == "waitlist.expired") == 1


def test_an_accepted_waitlist_offer_books_the_time_and_a_booked_session_moves_earlier(client, clinic):
    day = monday_in(2)
    taken = taken_at(clinic, day)
    later = book(clinic, clinic.patient, at(day + timedelta(days=3), 15), clinic.bruno)
    uid, sequence = later.ical_uid, later.ical_sequence
    request = waitlist.create_request(Actor.of(clinic.patient), appointment_id=later.id, **narrow(clinic, day))
    cancel(clinic, taken)
    offer = open_offer(request.id)
    assert offer is not None and offer.appointment_id == later.id
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer.waitlist")).one()
    secret = re.search(r"/offers/([A-Za-z0-9_-]+)", mail.body_text).group(1)
    assert client.post(f"/offers/{secret}", data={"hold": offer.holds[0].id}).status_code == 200
    moved = db.session.get(Appointment, later.id)
    assert moved.start_at == at(day, 10) and moved.practitioner_id == clinic.anna.id
    assert moved.ical_uid == uid and moved.ical_sequence == sequence + 1
    assert db.session.get(WaitlistRequest, request.id).status == "booked"


def test_preferences_and_the_latest_date_are_respected(clinic):
    day = monday_in(2)
    taken = taken_at(clinic, day)
    prefs = narrow(clinic, day)
    wrong_practitioner = ask(new_patient("Bea Bruno"), **{**prefs, "practitioner_ids": [clinic.bruno.id]})
    wrong_day = ask(new_patient("Dora Day"), **{**prefs, "weekdays": [(day.weekday() + 1) % 7]})
    too_early = ask(new_patient("Ezio Early"), **{**prefs, "from_time": time(10, 15)})
    too_late = ask(new_patient("Lia Latest"), **{**prefs, "latest": day - timedelta(days=1)})
    fitting = ask(new_patient("Fede Fits"), **prefs)
    cancel(clinic, taken)
    assert [open_offer(r.id) is not None for r in (wrong_practitioner, wrong_day, too_early, too_late, fitting)] \
        == [False, False, False, False, True]
    # Bad preferences are refused by the service (the API and the forms say why).
    for bad in ({"weekdays": [7]}, {"from_time": time(12), "to_time": time(11)},
                {"latest": utcnow().astimezone(TZ).date() - timedelta(days=1)}, {"practitioner_ids": [999]}):
        with pytest.raises(Exception) as refused:
            ask(new_patient("Bad Prefs"), **bad)
        assert getattr(refused.value, "status", None) == 400, bad
        db.session.rollback()


def test_several_mode_two_patients_accept_the_same_freed_time_at_once_one_wins(app, client, clinic,
                                                                                live_server):  # noqa: F811
    app.config["WAITLIST_MODE"] = "several"
    day = monday_in(2)
    taken = taken_at(clinic, day)
    first = ask(clinic.patient, **narrow(clinic, day))
    second = ask(clinic.other_patient, **narrow(clinic, day))
    cancel(clinic, taken)
    made = [open_offer(first.id), open_offer(second.id)]
    assert all(o is not None and o.unheld and not o.holds for o in made)
    assert count(Appointment, Appointment.status == HELD) == 0  # nothing held: first to accept wins
    tokens = [token_for(client, clinic.patient.email), token_for(client, clinic.other_patient.email)]
    ids = [o.id for o in made]
    fresh_session()

    def contender(i, barrier):
        barrier.wait()
        return http_post(live_server, f"/offers/{ids[i]}/accept", {}, tokens[i])

    results = race(2, contender)
    assert sorted(status for status, _ in results) == [200, 409], results
    loser = next(i for i, (status, _) in enumerate(results) if status == 409)
    assert results[loser][1]["error"]["code"] == "offer_taken"
    assert "took this time first" in results[loser][1]["error"]["message"]
    fresh_session()
    booked = db.session.scalars(select(Appointment).where(Appointment.start_at == at(day, 10),
                                                          Appointment.status == "booked")).all()
    assert len(booked) == 1
    requests = [db.session.get(WaitlistRequest, r.id) for r in (first, second)]
    assert requests[1 - loser].status == "booked" and requests[loser].status == "waiting"
    assert db.session.get(Offer, ids[loser]).status == "taken"


def test_several_mode_offer_page_shows_the_unheld_time_and_a_clear_page_for_the_late_one(app, client, clinic):
    app.config["WAITLIST_MODE"] = "several"
    day = monday_in(2)
    taken = taken_at(clinic, day)
    ask(clinic.patient, **narrow(clinic, day))
    ask(clinic.other_patient, **narrow(clinic, day))
    cancel(clinic, taken)
    secrets = [re.search(r"/offers/([A-Za-z0-9_-]+)", m.body_text).group(1)
               for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer.waitlist")
                                           .order_by(OutboxMessage.id))]
    assert len(secrets) == 2
    page = client.get(f"/offers/{secrets[0]}")
    assert page.status_code == 200 and 'name="time"' in page.get_data(as_text=True)
    assert "first to take it" in page.get_data(as_text=True)
    assert client.post(f"/offers/{secrets[0]}", data={"time": "0"}).status_code == 200
    late = client.post(f"/offers/{secrets[1]}", data={"time": "0"})
    assert late.status_code == 409 and "took this time first" in late.get_data(as_text=True)
    assert client.get(f"/offers/{secrets[1]}").status_code == 409


def rule_book_problems(hold: Appointment, ignoring: int | None, now):
    """What the rule book's own check says of a held time, as if it were booked (the hold
    itself, and the session it would replace, left out)."""
    spec = schedules.treatment_spec(hold.treatment)
    context = load_context(hold.start_at, hold.end_at, treatment_id=hold.treatment_id, patient_id=hold.patient_id)
    booked = [b for b in context.booked if b.appointment_id not in (hold.id, ignoring)]
    sessions, _ = assign_rooms(spec, [ProposedSession(hold.start_at, hold.practitioner_id, None, None)], context)
    facts = patient_facts(hold.patient_id, hold.treatment, ignore_ids=frozenset({ignoring} if ignoring else ()))
    return check_booking(spec, sessions, patient_id=hold.patient_id, practitioners=context.practitioners,
                         rooms=context.rooms, booked=booked, policy=context.policy, now=now,
                         consultation_starts=facts.consultation_starts,
                         contraindicated_ids=facts.contraindicated_ids, intake_missing=facts.intake_missing)


def test_randomized_run_never_offers_a_time_that_breaks_a_rule(clinic):
    rng = random.Random(15)
    monday = monday_in(2)
    days = [monday + timedelta(days=d) for d in range(5)]
    practitioners = [clinic.anna, clinic.bruno]
    patients = [new_patient(f"Rand Patient{i}") for i in range(8)]
    booked = []
    for day in days:  # a busy week: most times taken
        for hour in (9, 10, 11, 12, 14, 15, 16):
            for practitioner in practitioners:
                if rng.random() < 0.8:
                    booked.append(book(clinic, rng.choice(patients), at(day, hour, rng.choice((0, 30))), practitioner))
    for patient in patients:
        start = rng.randint(8, 15)
        prefs = dict(weekdays=sorted(rng.sample(range(5), rng.randint(1, 5))),
                     from_time=time(start, 0), to_time=time(min(start + rng.randint(1, 5), 18), 0),
                     latest=days[rng.randint(0, 4)] if rng.random() < 0.5 else None,
                     practitioner_ids=[rng.choice(practitioners).id] if rng.random() < 0.4 else [])
        mine = [a for a in booked if a.patient_id == patient.id]
        if mine and rng.random() < 0.5:
            waitlist.create_request(Actor.of(patient), appointment_id=rng.choice(mine).id, **prefs)
        else:
            ask(patient, **prefs)
    checked = 0
    for _ in range(25):
        live = [a for a in booked if db.session.get(Appointment, a.id).status == "booked"]
        if not live:
            break
        cancel(clinic, rng.choice(live))
        if rng.random() < 0.3:
            waitlist.run()
        now = utcnow()
        for offer in db.session.scalars(select(Offer).where(Offer.status == "open")):
            for hold in offer.holds:
                assert rule_book_problems(hold, offer.appointment_id, now) == [], (offer.id, hold.start_at)
                checked += 1
            if rng.random() < 0.5:
                offers.decline(Actor(offer.patient_id, "patient"), offer.id)  # passes it on
            else:
                offers.accept(Actor(offer.patient_id, "patient"), offer.id)  # no override: the pipeline agrees
            break
    assert checked >= 5
    assert count(AuditEvent, AuditEvent.action == "waitlist.offered") >= 5


def test_waitlist_api(client, clinic):
    day = monday_in(2)
    api = Api(client, clinic.patient.email)
    made = api.post("/waitlist", json={"treatment": "consultation", "latest": day.isoformat(),
                                       "practitioner_ids": [clinic.anna.id], "weekdays": [0, 2],
                                       "from_time": "09:00", "to_time": "12:00"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["status"] == "waiting" and body["weekdays"] == [0, 2] and body["practitioner_ids"] == [clinic.anna.id]
    assert [r["id"] for r in api.get("/waitlist").get_json()] == [body["id"]]
    for bad in ({"treatment": "consultation", "weekdays": [9]}, {"treatment": "consultation", "surprise": 1},
                {"treatment": "consultation", "latest": "2001-01-01"},
                {"treatment": "consultation", "from_time": "13:00", "to_time": "12:00"},
                {"treatment": "consultation", "practitioner_ids": [12345]}, {}):
        refused = api.post("/waitlist", json=bad)
        assert refused.status_code == 400, (bad, refused.get_json())
    assert api.post("/waitlist", json={"treatment": "nope"}).status_code == 400
    other = Api(client, clinic.other_patient.email)
    assert other.get("/waitlist").get_json() == []
    assert other.delete(f"/waitlist/{body['id']}").status_code == 404
    reception = Api(client, clinic.receptionist.email)
    assert [r["id"] for r in reception.get("/waitlist").get_json()] == [body["id"]]
    assert reception.post("/waitlist", json={"treatment": "consultation", "patient_id": clinic.other_patient.id}
                          ).status_code == 201
    assert Api(client, clinic.practitioner_user.email).get("/waitlist").status_code == 403
    assert api.delete(f"/waitlist/{body['id']}").status_code == 204
    assert db.session.get(WaitlistRequest, body["id"]).status == "withdrawn"
    assert count(AuditEvent, AuditEvent.action == "waitlist.withdrawn") == 1
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/waitlist" in spec["paths"] and "/api/v1/waitlist/{request_id}" in spec["paths"]


def _sign_in(client, email):
    assert client.post("/login", data={"email": email, "password": "password123"}).status_code in (200, 302)


def test_waitlist_pages(client, clinic):
    day = monday_in(2)
    appointment = book(clinic, clinic.patient, at(day, 15), clinic.bruno)
    _sign_in(client, clinic.patient.email)
    me = client.get("/me").get_data(as_text=True)
    assert f"/me/waitlist/new?appointment={appointment.id}" in me
    assert "/me/waitlist/new?treatment=consultation" in client.get("/book/consultation").get_data(as_text=True)
    form = client.get(f"/me/waitlist/new?appointment={appointment.id}")
    assert form.status_code == 200 and "Ask for an earlier time" in form.get_data(as_text=True)
    sent = client.post(f"/me/waitlist/new?appointment={appointment.id}",
                       data={"practitioners": [str(clinic.anna.id)], "weekdays": ["0", "1"], "from_time": "09:00",
                             "to_time": "12:00", "latest": day.isoformat()})
    assert sent.status_code == 302
    request = db.session.scalars(select(WaitlistRequest)).one()
    assert request.appointment_id == appointment.id and request.weekdays == [0, 1]
    bad = client.post("/me/waitlist/new", data={"treatment": "consultation", "from_time": "12:00", "to_time": "09:00"})
    assert bad.status_code == 400 and "must come before" in bad.get_data(as_text=True)
    assert client.post(f"/me/waitlist/{request.id}/withdraw").status_code == 302
    assert db.session.get(WaitlistRequest, request.id).status == "withdrawn"
    client.post("/logout")
    _sign_in(client, clinic.receptionist.email)
    page = client.get(f"/reception/waitlist?patient={clinic.other_patient.id}")
    assert page.status_code == 200 and "Otto Other" in page.get_data(as_text=True)
    added = client.post(f"/reception/waitlist?patient={clinic.other_patient.id}", data={"treatment": "consultation"})
    assert added.status_code == 302
    listing = client.get("/reception/waitlist").get_data(as_text=True)
    assert "Otto Other" in listing and "Paola Patient" in listing and "withdrawn" in listing
    assert client.get("/reception/waitlist?q=otto").status_code == 200


def test_flask_waitlist_run_offers_free_times_to_waiting_requests_and_closes_lapsed_ones(app, clinic):
    day = monday_in(2)
    waiting = ask(clinic.patient, practitioner_ids=[clinic.bruno.id], weekdays=[day.weekday()],
                  from_time=time(15, 0), to_time=time(16, 0), latest=day + timedelta(days=7))
    lapsed = ask(clinic.other_patient)
    db.session.get(WaitlistRequest, lapsed.id).latest = utcnow().astimezone(TZ).date() - timedelta(days=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["waitlist", "run"])
    assert result.exit_code == 0 and "made 1 waitlist offer(s); closed 1 request(s)" in result.output, result.output
    offer = open_offer(waiting.id)
    assert offer is not None and 1 <= len(offer.holds) <= offers.MAX_TIMES
    for hold in offer.holds:  # the earliest times that fit, every one by the rule book's own check
        local = hold.start_at.astimezone(TZ)
        assert hold.practitioner_id == clinic.bruno.id and local.weekday() == day.weekday()
        assert time(15) <= local.time() and (local + timedelta(minutes=30)).time() <= time(16)
        assert rule_book_problems(hold, None, utcnow()) == []
    assert db.session.get(WaitlistRequest, lapsed.id).status == "expired"
    # Run again: nothing new (the request is offered already).
    assert "made 0 waitlist offer(s)" in app.test_cli_runner().invoke(args=["waitlist", "run"]).output
