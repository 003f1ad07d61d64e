"""The course of treatment after booking: prep confirmed before each session, aftercare after
it, and the recall to maintenance when a series ends (issue 14)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base, utcnow
from booking.models.catalog import Translated, translated

PREP_CHECK_STATUSES = ("pending", "prepared", "needs_attention", "callback")
RECALL_STATUSES = ("due", "invited", "reminded", "booked", "declined")


class AftercareRule(Translated, Base):
    """Something the patient avoids after a session, and for how long ("No sauna", 48 h)."""

    __tablename__ = "aftercare_rule"
    __table_args__ = (CheckConstraint("hours > 0", name="hours_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id", ondelete="CASCADE"), index=True)
    instruction_default: Mapped[str] = mapped_column("instruction", String(200))
    hours: Mapped[int]

    protocol: Mapped["Protocol"] = relationship(back_populates="aftercare_rules")  # noqa: F821

    TRANSLATED_FIELDS = ("instruction",)
    instruction = translated("instruction")


class PrepCheck(Base):
    """A session's prep confirmation: asked for one start time, answered once per link.

    A moved session gets a fresh check (``start_at`` no longer matches). The link's secret is
    stored hashed and cleared when it is used, so a link works once; it also stops at
    ``link_expires_at``.
    """

    __tablename__ = "prep_check"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'prepared', 'needs_attention', 'callback')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), unique=True)
    start_at: Mapped[datetime]  # the start the patient was asked about
    status: Mapped[str] = mapped_column(String(20), default="pending")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # step key -> "done" / "not_done"
    requested_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None]

    appointment: Mapped["Appointment"] = relationship()  # noqa: F821


class Recall(Base):
    """A patient due for maintenance after a completed series, and how far the recall went."""

    __tablename__ = "recall"
    __table_args__ = (
        CheckConstraint("status IN ('due', 'invited', 'reminded', 'booked', 'declined')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), default="due")
    invited_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    series: Mapped["Series"] = relationship()  # noqa: F821
    patient: Mapped["User"] = relationship()  # noqa: F821
    treatment: Mapped["Treatment"] = relationship()  # noqa: F821
    appointment: Mapped["Appointment | None"] = relationship()  # noqa: F821  (the maintenance booked)
