"""People: users and roles, practitioners and their schedules, patients' intake."""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from booking.models.base import Base, utcnow
from booking.models.catalog import practitioner_treatments

ROLES = ("admin", "receptionist", "practitioner", "patient")
# Werkzeug's default (scrypt) in production; the test settings pick a cheap method so that the
# suite does not spend most of its time hashing. create_app sets it from PASSWORD_HASH_METHOD.
password_hash_method = {"method": "scrypt"}
STAFF_ROLES = ("admin", "receptionist", "practitioner")

# The health questionnaire; a treatment's protocol lists the codes that contraindicate it. The
# questions are lazy: each reads in the language of the request that shows it (``str()`` one
# to get text, e.g. for JSON).
INTAKE_QUESTIONS = {
    "pregnant": _l("Are you pregnant or breastfeeding?"),
    "blood_thinners": _l("Do you take blood thinners (warfarin, heparin, DOACs)?"),
    "active_infection": _l("Do you have an active skin infection or cold sore in the area?"),
    "autoimmune": _l("Do you have an autoimmune disease?"),
    "keloids": _l("Do you form keloid scars?"),
    "allergies": _l("Are you allergic to any medicine or cosmetic ingredient?"),
}


class User(UserMixin, Base):
    """Anyone who signs in: staff and patients."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'receptionist', 'practitioner', 'patient')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a patient reception added by phone without an e-mail address: they get no mail
    # and cannot sign in until an address is added (unique allows many NULLs).
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(20), default="patient", index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erasure_requested_at: Mapped[datetime | None]
    # Part of the id kept in the session and the remember cookie (``get_id``); raising it ends
    # every session and remember cookie of the account (sign-out, a new password).
    session_version: Mapped[int] = mapped_column(default=1)
    # Issue 16: the language the user chose ("en", "it"); None: no preference (the clinic's default).
    locale: Mapped[str | None] = mapped_column(String(5))

    practitioner: Mapped["Practitioner | None"] = relationship(back_populates="user", uselist=False)
    intake: Mapped["Intake | None"] = relationship(
        back_populates="patient", uselist=False, foreign_keys="Intake.patient_id"
    )

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``; an existing account's sessions end with the old one."""
        self.password_hash = generate_password_hash(password, method=password_hash_method["method"])
        if self.session_version is not None:
            self.end_sessions()

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash; as slow when there is none to match."""
        if not self.password_hash:
            return password_matches_nobody(password)
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Make every session and remember cookie issued so far stop working."""
        self.session_version = (self.session_version or 1) + 1

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and remember cookie: id and session version."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        """Inactive users cannot sign in."""
        return self.active

    @property
    def is_staff(self) -> bool:
        """True for admin, receptionist and practitioner."""
        return self.role in STAFF_ROLES


_dummy_hashes: dict[str, str] = {}


def password_matches_nobody(password: str) -> bool:
    """Check ``password`` against a throwaway hash made the same way as real ones, and say no.

    Signing in as an unknown e-mail (or an account with no password) then takes as long as a
    wrong password for a real account, so the time does not tell which e-mails have accounts.
    """
    method = password_hash_method["method"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not a password of anyone", method=method)
    check_password_hash(_dummy_hashes[method], password)
    return False


class Practitioner(Base):
    """A user who gives treatments, with weekly hours, breaks, exceptions and time off."""

    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    color: Mapped[str] = mapped_column(String(7), default="#6a5acd")
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(back_populates="practitioner")
    treatments: Mapped[list["Treatment"]] = relationship(  # noqa: F821
        secondary=practitioner_treatments, back_populates="practitioners", order_by="Treatment.id"
    )
    hours: Mapped[list["WorkingHours"]] = relationship(
        cascade="all, delete-orphan", order_by="(WorkingHours.weekday, WorkingHours.start_time)"
    )
    breaks: Mapped[list["Break"]] = relationship(
        cascade="all, delete-orphan", order_by="(Break.weekday, Break.start_time)"
    )
    exceptions: Mapped[list["DateException"]] = relationship(
        cascade="all, delete-orphan", order_by="(DateException.day, DateException.start_time)"
    )
    time_off: Mapped[list["TimeOff"]] = relationship(
        cascade="all, delete-orphan", order_by="TimeOff.start_at"
    )

    @property
    def name(self) -> str:
        """The practitioner's display name."""
        return self.user.name


class WorkingHours(Base):
    """A weekly working period in the clinic's local time (weekday 0 = Monday)."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    start_time: Mapped[time]
    end_time: Mapped[time]


class Break(Base):
    """A weekly break (lunch) in the clinic's local time."""

    __tablename__ = "break"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    start_time: Mapped[time]
    end_time: Mapped[time]


class DateException(Base):
    """Hours that replace the weekly ones on one date; a row with no times means a day off."""

    __tablename__ = "date_exception"
    __table_args__ = (
        CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR end_time > start_time",
            name="period_valid",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date]
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    note: Mapped[str] = mapped_column(String(200), default="")


class TimeOff(Base):
    """A span a practitioner is away (holiday, sick leave), in UTC."""

    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("end_at > start_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")


class Intake(Base):
    """A patient's health questionnaire: question code -> yes/no."""

    __tablename__ = "intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    answers: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[User] = relationship(back_populates="intake", foreign_keys=[patient_id])

    def flagged(self) -> set[str]:
        """The question codes answered yes."""
        return {code for code, yes in (self.answers or {}).items() if yes}


class Clearance(Base):
    """A practitioner clears a patient for a treatment despite a contraindicating answer."""

    __tablename__ = "clearance"
    __table_args__ = (UniqueConstraint("patient_id", "treatment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id", ondelete="CASCADE"))
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    cleared_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")
