"""Series and appointments: what is booked, for whom, when."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base, utcnow

APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "cancelled", "no_show", "held")
# Statuses that hold the practitioner's and the room's time. A no-show frees it (a walk-in may
# take it); a cancelled appointment never blocks.
BLOCKING_STATUSES = ("booked", "checked_in", "completed")
# A hold (issue 15) is an appointment row with status "held" until ``hold_expires_at``: the
# database's no-overlap rules cover it as they cover bookings, so a held time can never be
# booked by anyone else; once expired it counts for nothing, and the next write over it
# removes it first (services.holds). The database constraints use this list.
HELD = "held"
BUSY_STATUSES = (*BLOCKING_STATUSES, HELD)
SERIES_STATUSES = ("active", "completed", "cancelled")

_BLOCKING_SQL = "status IN ('booked', 'checked_in', 'completed')"


def new_ical_uid() -> str:
    """A globally unique, never reused iCalendar UID."""
    return f"{uuid.uuid4()}@clinic-booking"


class Series(Base):
    """A patient's course of one treatment's protocol."""

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'completed', 'cancelled')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    avoid_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A prepaid course (issue 14): so many sessions, to be used by a date; None: not a package.
    course_sessions: Mapped[int | None]
    course_expires_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    appointments: Mapped[list["Appointment"]] = relationship(
        back_populates="series", order_by="(Appointment.series_index, Appointment.id)"
    )
    treatment: Mapped["Treatment"] = relationship()  # noqa: F821
    patient: Mapped["User"] = relationship(foreign_keys=[patient_id])  # noqa: F821

    def avoid_days(self) -> list[date]:
        """The patient's avoid dates as dates."""
        return [date.fromisoformat(d) for d in self.avoid_dates or []]


class Appointment(Base):
    """One booked session: patient, practitioner, room, time (UTC) and its iCalendar identity.

    ``busy_start``/``busy_end`` are the span the practitioner and room are held, buffers
    included; the database's no-overlap rules work on them.
    """

    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show', 'held')",
            name="status_known",
        ),
        CheckConstraint("(status = 'held') = (hold_expires_at IS NOT NULL)", name="held_until"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("busy_start <= start_at AND busy_end >= end_at", name="busy_covers_time"),
        CheckConstraint("ical_sequence >= 0", name="sequence_not_negative"),
        CheckConstraint(
            "(series_id IS NULL) = (series_index IS NULL)", name="series_index_with_series"
        ),
        Index("ix_appointment_practitioner_busy", "practitioner_id", "busy_start", "busy_end"),
        Index("ix_appointment_room_busy", "room_id", "busy_start", "busy_end"),
        Index("ix_appointment_patient_start", "patient_id", "start_at"),
        # Feeds compute their ETag from the appointments in a start_at window; on PostgreSQL the
        # included columns let that aggregate run as an index-only scan.
        Index("ix_appointment_start", "start_at",
              postgresql_include=["status", "updated_at", "id", "practitioner_id", "room_id", "patient_id"]),
        # Window reads (booked_between): "busy_end > lo AND busy_start < hi" as an index range.
        Index("ix_appointment_busy_window", "busy_end", "busy_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    series_index: Mapped[int | None]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    busy_start: Mapped[datetime]
    busy_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="booked")
    ical_uid: Mapped[str] = mapped_column(String(120), unique=True, default=new_ical_uid)
    ical_sequence: Mapped[int] = mapped_column(default=0)
    override_reason: Mapped[str | None] = mapped_column(String(500))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    prep_acknowledged_at: Mapped[datetime | None]
    # A hold: until when the time is kept, and the offer it belongs to (issue 15).
    hold_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE", use_alter=True), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    series: Mapped[Series | None] = relationship(back_populates="appointments")
    treatment: Mapped["Treatment"] = relationship()  # noqa: F821
    practitioner: Mapped["Practitioner"] = relationship()  # noqa: F821
    room: Mapped["Room | None"] = relationship()  # noqa: F821
    patient: Mapped["User"] = relationship(foreign_keys=[patient_id])  # noqa: F821

    def place(self, start: datetime, duration_minutes: int, buffer_before: int, buffer_after: int) -> None:
        """Set the start, end and the held span (with buffers) together."""
        self.start_at = start
        self.end_at = start + timedelta(minutes=duration_minutes)
        self.busy_start = start - timedelta(minutes=buffer_before)
        self.busy_end = self.end_at + timedelta(minutes=buffer_after)

    @property
    def is_blocking(self) -> bool:
        """True while the appointment holds its time."""
        return self.status in BLOCKING_STATUSES
