"""The demo clinic that ``flask seed-demo`` creates: a catalog from common clinic practice with
prices, three practitioners, two rooms, one user per role, the public holidays of Rome as
closures, and patients part-way through their courses. It speaks Italian by default, its own
texts (treatments, prep and aftercare steps, welcome and booking note) written in Italian with
English translations, so English is one click away.

The demo obeys its own rules: every appointment is found and written by the same services a
booking goes through (the free-time search, the series planner and the booking pipeline's
checks), each at the moment it was booked. The past is seeded by booking it with a "now" in the
past: a patient's consultation is booked a week ahead of it, their series right after it, and
what has happened since is marked completed. No rule is copied here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, select

from booking.extensions import db
from booking.models import (
    AftercareRule,
    Appointment,
    AuditEvent,
    Break,
    ClinicSettings,
    Intake,
    OutboxMessage,
    Practitioner,
    PrepRule,
    Protocol,
    Room,
    Series,
    Treatment,
    User,
    WorkingHours,
)
from booking.scheduling import ProposedSession, Slot
from booking.scheduling.clock import local_day_bounds, to_local
from booking.services import holidays
from booking.services.actor import Actor
from booking.services.availability import available_slots
from booking.services.booking import Booking, plan_for, write_sessions
from booking.services.changes import update_series_status
from booking.services.recall import series_ended

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
# The demo clinic writes in Italian (its default language) and gives every text in English too
# (IN_ENGLISH): the language switcher shows the same catalog in English.
CATALOG = (
    CatalogEntry("consultation", "Consulto", "consultation", None, 30, 1, None, 0,
                 (("Compilare il questionario sanitario", 72),),
                 "Un incontro con un operatore per rivedere il questionario sanitario e concordare "
                 "un piano di trattamento.",
                 "#7a869a", ()),
    CatalogEntry("mesotherapy-face", "Mesoterapia viso", "treatment", "face", 30, 4, (10, 14, 21), 72,
                 (("Sospendere aspirina/FANS, olio di pesce e vitamina E", 7 * DAY),
                  ("Niente retinoidi né acidi", 3 * DAY), ("Niente alcol", 24)),
                 "Microiniezioni di vitamine e acido ialuronico per idratare e dare luminosità.", "#d9822b",
                 ("pregnant", "blood_thinners", "active_infection")),
    CatalogEntry("mesotherapy-scalp", "Mesoterapia cuoio capelluto", "treatment", "scalp", 30, 6, (7, 10, 14), 48,
                 (("Sospendere aspirina/FANS", 7 * DAY), ("Niente tinta per capelli", 3 * DAY)),
                 "Microiniezioni nel cuoio capelluto per sostenere la crescita dei capelli.", "#8e6c8a",
                 ("pregnant", "blood_thinners", "active_infection")),
    CatalogEntry("mesotherapy-body", "Mesoterapia corpo", "treatment", "body", 45, 10, (6, 7, 14), 48,
                 (("Sospendere aspirina/FANS", 7 * DAY), ("Niente alcol", 24)),
                 "Microiniezioni mirate per adiposità localizzata e cellulite.", "#3e8e7e",
                 ("pregnant", "blood_thinners")),
    CatalogEntry("polynucleotides-eyes", "Polinucleotidi contorno occhi", "treatment", "eyes", 45, 3,
                 (14, 21, 28), 72,
                 (("Sospendere aspirina/FANS", 7 * DAY),),
                 "Iniezioni di polinucleotidi per la zona sotto gli occhi.", "#4a7fb5",
                 ("pregnant", "blood_thinners", "allergies")),
    CatalogEntry("microneedling-face", "Microneedling viso", "treatment", "face", 60, 4, (21, 28, 42), 72,
                 (("Sospendere i retinoidi", 5 * DAY), ("Niente sole né lampade abbronzanti", 14 * DAY)),
                 "Terapia di induzione del collagene per grana della pelle, cicatrici e pori.", "#b5534a",
                 ("pregnant", "active_infection", "keloids")),
)

# Aftercare after each session (issue 14): (what to avoid, hours), from common clinic guidance.
AFTERCARE = {
    "mesotherapy-face": (("Niente trucco", 12), ("Niente sauna, piscina né attività fisica intensa", 48),
                         ("Nessun altro trattamento al viso", 72)),
    "mesotherapy-scalp": (("Non lavare né tingere i capelli", 24), ("Niente sauna né piscina", 48)),
    "mesotherapy-body": (("Niente sauna, piscina né attività fisica intensa", 48),),
    "polynucleotides-eyes": (("Niente trucco intorno agli occhi", 12), ("Niente sauna né piscina", 48)),
    "microneedling-face": (("Niente trucco", 24), ("Niente sauna né piscina", 72),
                           ("Niente sole né lampade abbronzanti", 14 * DAY)),
}
# What the clinic says on its home page and after a booking.
WELCOME = ("Benvenuti a Villa Rosa. Si comincia con un consulto; poi si prenota online l'intero ciclo di "
           "sedute, ciascuna nei tempi del protocollo.")
BOOKING_NOTE = "Il parcheggio è in Via dei Giardini 14. Arrivi cinque minuti prima, senza trucco sulla zona trattata."

# Every text above in English, the demo's second language.
IN_ENGLISH = {
    "Consulto": "Consultation",
    "Un incontro con un operatore per rivedere il questionario sanitario e concordare un piano di trattamento.":
        "Meet a practitioner, review your health questionnaire and agree a treatment plan.",
    "Mesoterapia viso": "Mesotherapy, face",
    "Microiniezioni di vitamine e acido ialuronico per idratare e dare luminosità.":
        "Micro-injections of vitamins and hyaluronic acid for hydration and glow.",
    "Mesoterapia cuoio capelluto": "Mesotherapy, scalp",
    "Microiniezioni nel cuoio capelluto per sostenere la crescita dei capelli.":
        "Micro-injections into the scalp to support hair growth.",
    "Mesoterapia corpo": "Mesotherapy, body",
    "Microiniezioni mirate per adiposità localizzata e cellulite.":
        "Targeted micro-injections for localised fat and cellulite.",
    "Polinucleotidi contorno occhi": "Polynucleotides, eyes",
    "Iniezioni di polinucleotidi per la zona sotto gli occhi.": "Polynucleotide injections for the under-eye area.",
    "Microneedling viso": "Microneedling, face",
    "Terapia di induzione del collagene per grana della pelle, cicatrici e pori.":
        "Collagen induction therapy for texture, scars and pores.",
    "Compilare il questionario sanitario": "Fill in the health questionnaire",
    "Sospendere aspirina/FANS, olio di pesce e vitamina E": "Stop aspirin/NSAIDs, fish oil and vitamin E",
    "Niente retinoidi né acidi": "No retinoids or acids",
    "Niente alcol": "No alcohol",
    "Sospendere aspirina/FANS": "Stop aspirin/NSAIDs",
    "Niente tinta per capelli": "No hair colouring",
    "Sospendere i retinoidi": "Stop retinoids",
    "Niente sole né lampade abbronzanti": "No sun or tanning",
    "Niente trucco": "No make-up",
    "Niente sauna, piscina né attività fisica intensa": "No sauna, swimming or hard exercise",
    "Nessun altro trattamento al viso": "No other facial treatment",
    "Non lavare né tingere i capelli": "No hair washing or colouring",
    "Niente sauna né piscina": "No sauna or swimming",
    "Niente trucco intorno agli occhi": "No make-up around the eyes",
    WELCOME: "Welcome to Villa Rosa. You start with a consultation; then you book the whole course of "
             "sessions online, each at the time its protocol asks for.",
    BOOKING_NOTE: "Parking is at Via dei Giardini 14. Please arrive five minutes early, with no make-up on "
                  "the treated area.",
}
# Days from a series' last session to its maintenance session (None: no recall).
MAINTENANCE_DAYS = {"polynucleotides-eyes": 60, "microneedling-face": 180}
PREP_CONFIRM_HOURS = 48  # treatments with prep steps ask the patient to confirm them this long before

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

# Price of one session in euro cents (``Treatment.price_cents``).
PRICES = {
    "consultation": 6000,
    "mesotherapy-face": 18000,
    "mesotherapy-scalp": 15000,
    "mesotherapy-body": 12000,
    "polynucleotides-eyes": 25000,
    "microneedling-face": 20000,
}

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
    ("Giorgia Marino", "giorgia@example.com", "+39 333 100 0009"),
    ("Simone Costa", "simone@example.com", "+39 333 100 0010"),
    ("Alessandro Ferrara", "alessandro@example.com", "+39 333 100 0011"),
    ("Valentina Rizzo", "valentina@example.com", "+39 333 100 0012"),
    ("Matteo Fontana", "matteo@example.com", "+39 333 100 0013"),
    ("Sofia Esposito", "sofia@example.com", "+39 333 100 0014"),
    ("Laura Ferrara", "laura@example.com", "+39 333 100 0015"),
)

# Patients part-way through a course: e-mail, treatment, sessions done by "now" (about: the
# planner moves a session off a closed or full day).
COURSES = (
    ("luca@example.com", "mesotherapy-scalp", 1),  # 1 of 6
    ("chiara@example.com", "mesotherapy-face", 2),  # 2 of 4
    ("francesca@example.com", "mesotherapy-face", 3),  # 3 of 4
    ("paolo@example.com", "mesotherapy-body", 4),  # 4 of 10
    ("elena@example.com", "polynucleotides-eyes", 1),  # 1 of 3
    ("davide@example.com", "mesotherapy-scalp", 3),  # 3 of 6
    ("martina@example.com", "microneedling-face", 2),  # 2 of 4
    ("giorgia@example.com", "mesotherapy-body", 6),  # 6 of 10
    ("simone@example.com", "polynucleotides-eyes", 2),  # 2 of 3
    ("alessandro@example.com", "microneedling-face", 1),  # 1 of 4
    ("laura@example.com", "polynucleotides-eyes", 3),  # 3 of 3: completed, due for maintenance soon
)
# Series recorded as a prepaid course (issue 14): e-mail -> months until it expires.
PREPAID = {"paolo@example.com": 6}
# New patients whose first consultation is booked for the coming days.
NEW_PATIENTS = ("valentina@example.com", "matteo@example.com", "sofia@example.com")
# Days of choice given to the free-time search for a consultation or a series' first session.
SEARCH_DAYS = 6


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
    settings.default_locale = "it"  # English is one click away (the footer's switcher)
    settings.welcome_text, settings.booking_note = WELCOME, BOOKING_NOTE
    settings.set_translation("en", welcome_text=IN_ENGLISH[WELCOME], booking_note=IN_ENGLISH[BOOKING_NOTE])
    settings.timezone = TIMEZONE
    settings.phone = "+39 06 1234 5678"
    settings.email = "hello@clinic.example"
    settings.address = "Via dei Giardini 12, Roma"
    settings.horizon_days = 180
    settings.min_notice_hours = 24
    settings.cancel_cutoff_hours = 24
    settings.slot_step_minutes = 15
    settings.reminder_hours = 48
    settings.country, settings.region, settings.currency = "IT", "RM", "EUR"
    db.session.add(settings)

    treatments = _seed_catalog()
    rooms = [Room(name=name, treatments=[treatments[s] for s in slugs]) for name, slugs in ROOMS]
    db.session.add_all(rooms)
    staff = {role: _user(name, email, role) for name, email, role in STAFF}
    db.session.add_all(staff.values())
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
    db.session.flush()

    # Closed days first, so that nothing is ever booked on them: the public holidays of every
    # year the demo's diary touches (this year and the next; last year too early in January).
    today = to_local(now, TIMEZONE).date()
    closures = 0
    for year in range((today - timedelta(days=120)).year, today.year + 2):
        closures += len(holidays.write_public_holidays(Actor.of(staff["admin"]), year))

    seeder = _Seeder(now, rng, Actor.of(staff["receptionist"]), treatments)
    by_email = {p.email: p for p in patients}
    outbox_before = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    # Anna, the demo patient who signs in, gets one completed consultation and nothing else,
    # so the README's walkthrough (plan and book a series) works the same on every day.
    seeder.consultation(patients[0], today - timedelta(days=7), today - timedelta(days=3))
    for email, slug, done in COURSES:
        seeder.course(by_email[email], slug, done)
    for email in NEW_PATIENTS:
        seeder.consultation(by_email[email], today + timedelta(days=1), today + timedelta(days=SEARCH_DAYS))
    seeder.mark_completed()
    for email, months in PREPAID.items():
        series = db.session.scalar(select(Series).where(Series.patient_id == by_email[email].id))
        series.course_sessions = series.treatment.protocol.sessions
        series.course_expires_on = today + timedelta(days=30 * months)
    # The booking pipeline queued a confirmation for each booking; the demo's made-up history
    # sends no mail (reminders for the coming days are queued as for any booking).
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id > outbox_before))
    db.session.add(AuditEvent(action="demo.seeded", entity_type="clinic", entity_id=1,
                              after={"appointments": len(seeder.written), "series": seeder.series,
                                     "closures": closures}))
    db.session.commit()
    return {
        "treatments": len(treatments),
        "practitioners": len(practitioners),
        "rooms": len(rooms),
        "patients": len(patients),
        "series": seeder.series,
        "appointments": len(seeder.written),
        "closures": closures,
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
            price_cents=PRICES.get(entry.slug),
        )
        treatment.set_translation("en", name=IN_ENGLISH[entry.name], description=IN_ENGLISH[entry.description])
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
            maintenance_interval_days=None if entry.kind == "consultation" else MAINTENANCE_DAYS.get(entry.slug, 90),
            contraindications=list(entry.contraindications),
            prep_rules=[_in_english(PrepRule(instruction=i, lead_hours=h)) for i, h in entry.prep],
            prep_confirm_hours=PREP_CONFIRM_HOURS if entry.kind == "treatment" and entry.prep else None,
            prep_answer_by_hours=24,
            aftercare_rules=[_in_english(AftercareRule(instruction=i, hours=h))
                             for i, h in AFTERCARE.get(entry.slug, ())],
        )
    db.session.flush()
    return by_slug


def _in_english(rule: PrepRule | AftercareRule) -> PrepRule | AftercareRule:
    """The rule with its instruction in English too."""
    rule.set_translation("en", instruction=IN_ENGLISH[rule.default_text("instruction")])
    return rule


class _Seeder:
    """Books the demo's appointments through the booking services, each at the moment it was
    booked, in the caller's transaction."""

    def __init__(self, now: datetime, rng: random.Random, actor: Actor, treatments: dict[str, Treatment]) -> None:
        """Bookings made by ``actor`` (reception); ``now`` is the demo's present."""
        self.now = now
        self.rng = rng
        self.actor = actor
        self.treatments = treatments
        self.today = to_local(now, TIMEZONE).date()
        self.written: list[Appointment] = []
        self.series = 0

    def consultation(self, patient: User, first_day: date, last_day: date) -> Appointment:
        """A consultation for ``patient`` between two local days, booked a week before the
        first of them (or now, when that is earlier)."""
        booked_at = min(self.now, local_day_bounds(first_day, TIMEZONE).start - timedelta(days=7))
        slots = self._free(patient, "consultation", first_day, last_day, booked_at)
        if not slots:
            raise RuntimeError(f"The demo found no free consultation for {patient.name} "
                               f"between {first_day} and {last_day}.")
        slot = self.rng.choice(slots)
        return self._write(patient, self.treatments["consultation"],
                           [ProposedSession(slot.start, slot.practitioner_id, None, None)], booked_at)[0]

    def course(self, patient: User, slug: str, done: int) -> None:
        """A consultation, then a whole series booked right after it, placed so that about
        ``done`` sessions lie before now."""
        treatment = self.treatments[slug]
        protocol = treatment.protocol
        target = protocol.interval_target_days or 7
        # The first session; the ``done``-th then lies about half an interval before today.
        first = self.today - timedelta(days=(done - 1) * target + target // 2)
        # The consultation comes early enough for the longest prep step and the protocol's days
        # between consultation and first session (the series is booked right after it), plus
        # two days' slack; whether it is early enough is for the booking checks to say.
        lead_days = max([0, *(-(-rule.lead_hours // 24) for rule in protocol.prep_rules)])
        gap = max(lead_days, protocol.consultation_min_days_before) + 2
        consultation = self.consultation(patient, first - timedelta(days=gap + SEARCH_DAYS // 2),
                                         first - timedelta(days=gap))
        booked_at = consultation.end_at + timedelta(minutes=15)
        slots = self._free(patient, slug, first, first + timedelta(days=2 * SEARCH_DAYS), booked_at)
        # Any time on the first two days with free time (a little variety, done stays near ``done``).
        days = sorted({to_local(s.start, TIMEZONE).date() for s in slots})[:2]
        candidates = [s for s in slots if to_local(s.start, TIMEZONE).date() in days]
        self.rng.shuffle(candidates)
        for slot in candidates[:20]:
            plan = plan_for(treatment.id, slot.start, practitioner_id=slot.practitioner_id, patient_id=patient.id,
                            now=booked_at)
            if plan.ok:
                sessions = [ProposedSession(s.start, s.practitioner_id, None, s.index) for s in plan.sessions]
                self._write(patient, treatment, sessions, booked_at, new_series=True)
                self.series += 1
                return
        raise RuntimeError(f"The demo found no {treatment.name} series for {patient.name} from {first}.")

    def mark_completed(self) -> None:
        """What has ended by now happened: completed; a series with nothing left is completed
        and its patient is due for maintenance (the recall the app makes at a series' end)."""
        for appointment in self.written:
            if appointment.end_at <= self.now:
                appointment.status = "completed"
        db.session.flush()
        for series in {a.series for a in self.written if a.series is not None}:
            update_series_status(series)
            series_ended(series)
        db.session.flush()

    def _free(self, patient: User, slug: str, first_day: date, last_day: date, booked_at: datetime) -> list[Slot]:
        """The free times the patient would have been offered at ``booked_at``."""
        return available_slots(Actor.of(patient), treatment_slug=slug, first_day=first_day, last_day=last_day,
                               now=booked_at, reuse=False).slots

    def _write(self, patient: User, treatment: Treatment, sessions: list[ProposedSession], booked_at: datetime,
               *, new_series: bool = False) -> list[Appointment]:
        """Book through the booking pipeline at ``booked_at``: every check a booking passes,
        with no override (a refusal is a bug in the demo and stops it)."""
        written, _ = write_sessions(Booking(self.actor, treatment, patient, sessions, None, booked_at,
                                            new_series=new_series))
        self.written += written
        return written
