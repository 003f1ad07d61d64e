"""Offers and the waitlist (issue 15): held times offered to patients, and patients asking
for an earlier or different time."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base, utcnow

OFFER_KINDS = ("waitlist", "replan")
OFFER_STATUSES = ("open", "accepted", "declined", "expired", "taken", "withdrawn")
WAITLIST_STATUSES = ("waiting", "offered", "booked", "withdrawn", "expired")


class Offer(Base):
    """Up to three held times offered to one patient: for a new booking (a waitlist request) or
    to move an appointment (re-planning after an absence). Accepting one releases the others."""

    __tablename__ = "offer"
    __table_args__ = (
        CheckConstraint("kind IN ('waitlist', 'replan')", name="kind_known"),
        CheckConstraint("status IN ('open', 'accepted', 'declined', 'expired', 'taken', 'withdrawn')",
                        name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id", ondelete="CASCADE"))
    # The appointment to move (re-planning, or a waitlist request for a booked session).
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_request.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # Times offered without holding them (the waitlist's "several notified, first to accept wins"
    # mode): [{"start": ISO, "practitioner_id": int}]; accepting books the time if still free.
    unheld: Mapped[list[dict]] = mapped_column(JSON, default=list)
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]
    # The appointment the accepted hold became (or the moved appointment).
    result_appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="SET NULL"))

    patient: Mapped["User"] = relationship(foreign_keys=[patient_id])  # noqa: F821
    treatment: Mapped["Treatment"] = relationship()  # noqa: F821
    appointment: Mapped["Appointment | None"] = relationship(foreign_keys=[appointment_id])  # noqa: F821
    request: Mapped["WaitlistRequest | None"] = relationship(back_populates="offers")
    holds: Mapped[list["Appointment"]] = relationship(  # noqa: F821
        foreign_keys="Appointment.offer_id", order_by="Appointment.start_at", viewonly=True)


class WaitlistRequest(Base):
    """A patient (or reception for them) asking for an earlier or different time: for a booked
    session (``appointment_id``) or a new one of a treatment, with their preferences; the allowed
    window is the rule book's."""

    __tablename__ = "waitlist_request"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'offered', 'booked', 'withdrawn', 'expired')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment.id", ondelete="CASCADE"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"))
    practitioner_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # empty: any
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)  # 0 = Monday; empty: any
    from_time: Mapped[time | None]
    to_time: Mapped[time | None]
    latest: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    patient: Mapped["User"] = relationship(foreign_keys=[patient_id])  # noqa: F821
    treatment: Mapped["Treatment"] = relationship()  # noqa: F821
    appointment: Mapped["Appointment | None"] = relationship()  # noqa: F821
    offers: Mapped[list[Offer]] = relationship(back_populates="request")
