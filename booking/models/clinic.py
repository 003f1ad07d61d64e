"""The clinic itself: settings, rooms and closures."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base
from booking.models.catalog import Translated, room_treatments, translated


def new_rules_version() -> str:
    """A fresh, never repeated rules stamp."""
    return uuid4().hex


class ClinicSettings(Translated, Base):
    """The clinic's one row of settings (id is always 1)."""

    __tablename__ = "clinic_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("horizon_days > 0", name="horizon_positive"),
        CheckConstraint("slot_step_minutes > 0", name="slot_step_positive"),
        CheckConstraint("min_notice_hours >= 0", name="min_notice_not_negative"),
        CheckConstraint("cancel_cutoff_hours >= 0", name="cutoff_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200), default="Clinic")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    horizon_days: Mapped[int] = mapped_column(default=180)
    min_notice_hours: Mapped[int] = mapped_column(default=24)
    cancel_cutoff_hours: Mapped[int] = mapped_column(default=24)
    slot_step_minutes: Mapped[int] = mapped_column(default=15)
    reminder_hours: Mapped[int] = mapped_column(default=48)
    # Invite discretion: by default an invite says "Appointment at <clinic>", not the treatment.
    show_treatment_in_invites: Mapped[bool] = mapped_column(default=False)
    primary_color: Mapped[str] = mapped_column(String(7), default="#2f6f6a")
    # Where the clinic is, for its public holidays (the ``holidays`` package): an ISO 3166 country
    # code and, optionally, that package's code for a region or province ("RM" for Rome).
    country: Mapped[str] = mapped_column(String(2), default="IT")
    region: Mapped[str] = mapped_column(String(10), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # Issue 16: the language pages and mail use when nobody chose one (config LANGUAGES).
    default_locale: Mapped[str] = mapped_column(String(5), default="en", server_default="en")
    # Issue 16: what the clinic says to patients, in its default language (``translations``
    # holds the others): a welcome on the home page and a note after booking; both optional.
    welcome_text_default: Mapped[str] = mapped_column("welcome_text", Text, default="", server_default="")
    booking_note_default: Mapped[str] = mapped_column("booking_note", Text, default="", server_default="")
    # Message kinds the clinic has turned off (issue 14: "prep.confirm", "aftercare", "recall.invite",
    # "recall.reminder"); everything else is sent.
    messages_off: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO 4217, for treatment prices
    # A new random stamp on every change to the scheduling rules (services/rule_cache.py): app
    # processes reuse the rules they loaded while it stays the same.
    rules_version: Mapped[str] = mapped_column(String(32), default=new_rules_version)

    TRANSLATED_FIELDS = ("welcome_text", "booking_note")
    welcome_text = translated("welcome_text")
    booking_note = translated("booking_note")


class Room(Base):
    """A treatment room; serves some treatments."""

    __tablename__ = "room"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    treatments: Mapped[list["Treatment"]] = relationship(  # noqa: F821
        secondary=room_treatments, back_populates="rooms", order_by="Treatment.id"
    )
    closures: Mapped[list["RoomClosure"]] = relationship(
        back_populates="room", cascade="all, delete-orphan", order_by="RoomClosure.start_at"
    )


class RoomClosure(Base):
    """A time a room cannot be used (maintenance, a deep clean)."""

    __tablename__ = "room_closure"
    __table_args__ = (CheckConstraint("end_at > start_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")

    room: Mapped[Room] = relationship(back_populates="closures")


class ClinicClosure(Base):
    """A time the whole clinic is closed (a public holiday)."""

    __tablename__ = "clinic_closure"
    __table_args__ = (CheckConstraint("end_at > start_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")
