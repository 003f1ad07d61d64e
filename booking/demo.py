"""The demo clinic that ``flask seed-demo`` creates: a catalog from common clinic practice,
three practitioners, two rooms, one user per role, and two weeks of appointments."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from booking.extensions import db
from booking.models import (
    Appointment,
    AuditEvent,
    Break,
    ClinicSettings,
    Intake,
    Practitioner,
    PrepRule,
    Protocol,
    Room,
    Treatment,
    User,
    WorkingHours,
)
from booking.scheduling import check_patient_busy, check_slot_taken, free_slots
from booking.scheduling.clock import to_local
from booking.services import schedules

DEMO_PASSWORD = "demo-clinic"
TIMEZONE = "Europe/Rome"


@dataclass(frozen=True)
class CatalogEntry:
    """One row of the demo catalog."""

    slug: str
    name: str
    kind: str
    area: str | None
    minutes: int
    sessions: int
    interval: tuple[int, int, int] | None
    aftercare_hours: int
    prep: tuple[tuple[str, int], ...]
    description: str
    color: str
    contraindications: tuple[str, ...] = ("pregnant",)


DAY = 24
CATALOG = (
    CatalogEntry("consultation", "Consultation", "consultation", None, 30, 1, None, 0,
                 (("Fill in the health questionnaire", 72),),
                 "Meet a practitioner, review your health questionnaire and agree a treatment plan.",
                 "#7a869a", ()),
    CatalogEntry("mesotherapy-face", "Mesotherapy, face", "treatment", "face", 30, 4, (10, 14, 21), 72,
                 (("Stop aspirin/NSAIDs, fish oil and vitamin E", 7 * DAY),
                  ("No retinoids or acids", 3 * DAY), ("No alcohol", 24)),
                 "Micro-injections of vitamins and hyaluronic acid for hydration and glow.", "#d9822b",
                 ("pregnant", "blood_thinners", "active_infection")),
    CatalogEntry("mesotherapy-scalp", "Mesotherapy, scalp", "treatment", "scalp", 30, 6, (7, 10, 14), 48,
                 (("Stop aspirin/NSAIDs", 7 * DAY), ("No hair colouring", 3 * DAY)),
                 "Micro-injections into the scalp to support hair growth.", "#8e6c8a",
                 ("pregnant", "blood_thinners", "active_infection")),
    CatalogEntry("mesotherapy-body", "Mesotherapy, body", "treatment", "body", 45, 10, (6, 7, 14), 48,
                 (("Stop aspirin/NSAIDs", 7 * DAY), ("No alcohol", 24)),
                 "Targeted micro-injections for localised fat and cellulite.", "#3e8e7e",
                 ("pregnant", "blood_thinners")),
    CatalogEntry("polynucleotides-eyes", "Polynucleotides, eyes", "treatment", "eyes", 45, 3, (14, 21, 28), 72,
                 (("Stop aspirin/NSAIDs", 7 * DAY),),
                 "Polynucleotide injections for the under-eye area.", "#4a7fb5",
                 ("pregnant", "blood_thinners", "allergies")),
    CatalogEntry("microneedling-face", "Microneedling, face", "treatment", "face", 60, 4, (21, 28, 42), 72,
                 (("Stop retinoids", 5 * DAY), ("No sun or tanning", 14 * DAY)),
                 "Collagen induction therapy for texture, scars and pores.", "#b5534a",
                 ("pregnant", "active_infection", "keloids")),
)

# name, email, colour, weekly hours {weekday: (start, end)}, breaks {weekday: (start, end)}, slugs
PRACTITIONERS = (
    ("Dr Giulia Bianchi", "giulia@clinic.example", "#2f6f6a",
     {d: (time(9), time(17)) for d in range(0, 5)}, {d: (time(13), time(14)) for d in range(0, 5)},
     [c.slug for c in CATALOG]),
    ("Dr Marco Conti", "marco@clinic.example", "#6a5acd",
     {d: (time(10), time(19)) for d in range(1, 6)}, {d: (time(14), time(15)) for d in range(1, 6)},
     ["consultation", "mesotherapy-face", "mesotherapy-scalp", "mesotherapy-body", "polynucleotides-eyes"]),
    ("Sara Ferri", "sara@clinic.example", "#c2185b",
     {0: (time(8), time(14)), 2: (time(8), time(14)), 3: (time(12), time(20))},
     {0: (time(11), time(11, 15)), 2: (time(11), time(11, 15)), 3: (time(16), time(16, 30))},
     ["consultation", "mesotherapy-body", "microneedling-face"]),
)

ROOMS = (
    ("Sala Verde", [c.slug for c in CATALOG if c.kind == "treatment"]),
    ("Sala Blu", ["mesotherapy-face", "mesotherapy-scalp", "mesotherapy-body", "polynucleotides-eyes"]),
)

STAFF = (
    ("Alessia Admin", "admin@clinic.example", "admin"),
    ("Roberta Reception", "reception@clinic.example", "receptionist"),
)

PATIENTS = (
    ("Anna Rossi", "anna@example.com", "+39 333 100 0001"),
    ("Luca Moretti", "luca@example.com", "+39 333 100 0002"),
    ("Chiara Romano", "chiara@example.com", "+39 333 100 0003"),
    ("Francesca Colombo", "francesca@example.com", "+39 333 100 0004"),
    ("Paolo Ricci", "paolo@example.com", "+39 333 100 0005"),
    ("Elena Greco", "elena@example.com", "+39 333 100 0006"),
    ("Davide Bruno", "davide@example.com", "+39 333 100 0007"),
    ("Martina Gallo", "martina@example.com", "+39 333 100 0008"),
)


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, email, password) of every demo user who can sign in."""
    rows = [(role, email, DEMO_PASSWORD) for _, email, role in STAFF]
    rows += [("practitioner", email, DEMO_PASSWORD) for _, email, *_ in PRACTITIONERS]
    rows.append(("patient", PATIENTS[0][1], DEMO_PASSWORD))
    return rows


def database_is_empty() -> bool:
    """True when no user and no treatment exists yet."""
    users = db.session.scalar(select(func.count()).select_from(User))
    treatments = db.session.scalar(select(func.count()).select_from(Treatment))
    return not users and not treatments


def seed_demo(now: datetime | None = None, seed: int = 42) -> dict[str, int]:
    """Create the demo clinic in one transaction; returns counts of what was made."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    settings = db.session.get(ClinicSettings, 1) or ClinicSettings(id=1)
    settings.name = "Villa Rosa Aesthetic Clinic"
    settings.timezone = TIMEZONE
    settings.phone = "+39 06 1234 5678"
    settings.email = "hello@clinic.example"
    settings.address = "Via dei Giardini 12, Roma"
    settings.horizon_days = 180
    settings.min_notice_hours = 24
    settings.cancel_cutoff_hours = 24
    settings.slot_step_minutes = 15
    settings.reminder_hours = 48
    db.session.add(settings)

    treatments = _seed_catalog()
    rooms = [Room(name=name, treatments=[treatments[s] for s in slugs]) for name, slugs in ROOMS]
    db.session.add_all(rooms)
    for name, email, role in STAFF:
        db.session.add(_user(name, email, role))
    practitioners = []
    for name, email, color, hours, breaks, slugs in PRACTITIONERS:
        user = _user(name, email, "practitioner")
        practitioner = Practitioner(user=user, color=color, treatments=[treatments[s] for s in slugs])
        practitioner.hours = [WorkingHours(weekday=d, start_time=s, end_time=e) for d, (s, e) in hours.items()]
        practitioner.breaks = [Break(weekday=d, start_time=s, end_time=e) for d, (s, e) in breaks.items()]
        practitioners.append(practitioner)
    db.session.add_all(practitioners)
    patients = [_user(name, email, "patient", phone) for name, email, phone in PATIENTS]
    db.session.add_all(patients)
    db.session.flush()
    for patient in patients:
        db.session.add(Intake(patient=patient, answers={code: False for code in ("pregnant", "blood_thinners")}))

    # Anna, the demo patient who signs in, gets one completed consultation and nothing else,
    # so the README's walkthrough (plan and book a series) works the same on every day.
    count = _seed_appointments(now, rng, treatments, practitioners, rooms, patients[1:])
    count += _seed_consultation(now, treatments["consultation"], practitioners, rooms, patients[0])
    db.session.commit()
    return {
        "treatments": len(treatments),
        "practitioners": len(practitioners),
        "rooms": len(rooms),
        "patients": len(patients),
        "appointments": count,
    }


def _user(name: str, email: str, role: str, phone: str = "") -> User:
    """A demo user with the demo password."""
    user = User(name=name, email=email, role=role, phone=phone)
    user.set_password(DEMO_PASSWORD)
    return user


def _seed_catalog() -> dict[str, Treatment]:
    """The treatments and protocols of the demo catalog, by slug."""
    by_slug: dict[str, Treatment] = {}
    for entry in CATALOG:
        treatment = Treatment(
            slug=entry.slug, name=entry.name, kind=entry.kind, body_area=entry.area,
            duration_minutes=entry.minutes, description=entry.description, color=entry.color,
            needs_room=entry.kind == "treatment",
            buffer_after_minutes=10 if entry.kind == "treatment" else 0,
        )
        db.session.add(treatment)
        by_slug[entry.slug] = treatment
    db.session.flush()
    consultation = by_slug["consultation"]
    for entry in CATALOG:
        low, target, high = entry.interval or (None, None, None)
        treatment = by_slug[entry.slug]
        treatment.protocol = Protocol(
            sessions=entry.sessions,
            interval_min_days=low, interval_target_days=target, interval_max_days=high,
            consultation_treatment_id=None if entry.kind == "consultation" else consultation.id,
            consultation_min_days_before=0 if entry.kind == "consultation" else 2,
            consultation_valid_days=180,
            aftercare_hours=entry.aftercare_hours,
            maintenance_interval_days=None if entry.kind == "consultation" else 90,
            contraindications=list(entry.contraindications),
            prep_rules=[PrepRule(instruction=i, lead_hours=h) for i, h in entry.prep],
        )
    db.session.flush()
    return by_slug


def _seed_appointments(now, rng, treatments, practitioners, rooms, patients) -> int:
    """About half of the free time of the past week and the next two weeks, booked."""
    tz = TIMEZONE
    today = to_local(now, tz).date()
    first, last = today - timedelta(days=7), today + timedelta(days=14)
    policy = schedules.clinic_policy(db.session.get(ClinicSettings, 1))
    specs = [schedules.practitioner_schedule(p) for p in practitioners]
    room_specs = [schedules.room_schedule(r) for r in rooms]
    booked: list = []
    count = 0
    # Rules measure notice from "now"; seeding the past needs a "now" before the window.
    seed_now = now - timedelta(days=30)
    day = first
    while day <= last:
        for treatment in rng.sample(list(treatments.values()), k=len(treatments)):
            spec = schedules.treatment_spec(treatment)
            slots = free_slots(spec, specs, room_specs, booked, policy, day, day, seed_now)
            for slot in slots:
                if rng.random() > 0.12:
                    continue
                patient = rng.choice(patients)
                # Slots were free before this loop booked some of them; check again.
                if check_slot_taken(spec, slot.start, slot.end, slot.practitioner_id, slot.room_id, booked) \
                        or check_patient_busy(slot.start, slot.end, patient.id, booked):
                    continue
                appointment = Appointment(
                    patient_id=patient.id, practitioner_id=slot.practitioner_id, room_id=slot.room_id,
                    treatment_id=treatment.id,
                    status="completed" if slot.end <= now else "booked",
                )
                appointment.place(slot.start, treatment.duration_minutes,
                                  treatment.buffer_before_minutes, treatment.buffer_after_minutes)
                db.session.add(appointment)
                booked.append(_as_booked(appointment, spec, count))
                count += 1
        day += timedelta(days=1)
    db.session.flush()
    db.session.add(AuditEvent(action="demo.seeded", entity_type="clinic", entity_id=1,
                              after={"appointments": count}))
    return count


def _seed_consultation(now, consultation, practitioners, rooms, patient) -> int:
    """A completed consultation for ``patient`` in the last free slot of the past week."""
    today = to_local(now, TIMEZONE).date()
    policy = schedules.clinic_policy(db.session.get(ClinicSettings, 1))
    booked = schedules.booked_between(now - timedelta(days=8), now)
    slots = free_slots(schedules.treatment_spec(consultation), [schedules.practitioner_schedule(p) for p in practitioners],
                       [schedules.room_schedule(r) for r in rooms], booked, policy,
                       today - timedelta(days=7), today - timedelta(days=3), now - timedelta(days=30),
                       patient_id=patient.id)
    if not slots:
        return 0
    slot = slots[-1]
    appointment = Appointment(patient_id=patient.id, practitioner_id=slot.practitioner_id, room_id=slot.room_id,
                              treatment_id=consultation.id, status="completed")
    appointment.place(slot.start, consultation.duration_minutes, 0, 0)
    db.session.add(appointment)
    return 1


def _as_booked(appointment: Appointment, spec, index: int):
    """The in-memory view of a just-made appointment, so later slots avoid it."""
    from booking.scheduling.model import BookedAppointment

    return BookedAppointment(
        appointment_id=-(index + 1), patient_id=appointment.patient_id,
        practitioner_id=appointment.practitioner_id, room_id=appointment.room_id,
        treatment_id=appointment.treatment_id, body_area=spec.body_area,
        start=appointment.start_at, end=appointment.end_at,
        buffer_before_minutes=spec.buffer_before_minutes, buffer_after_minutes=spec.buffer_after_minutes,
        aftercare_hours=spec.protocol.aftercare_hours, kind=spec.kind,
    )
