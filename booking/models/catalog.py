"""What the clinic offers: treatments, their protocols and prep rules."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base

TREATMENT_KINDS = ("consultation", "treatment")
BODY_AREAS = ("face", "scalp", "body", "eyes", "neck", "hands")

practitioner_treatments = Table(
    "practitioner_treatment",
    Base.metadata,
    Column("practitioner_id", ForeignKey("practitioner.id", ondelete="CASCADE"), primary_key=True),
    Column("treatment_id", ForeignKey("treatment.id", ondelete="CASCADE"), primary_key=True),
)

room_treatments = Table(
    "room_treatment",
    Base.metadata,
    Column("room_id", ForeignKey("room.id", ondelete="CASCADE"), primary_key=True),
    Column("treatment_id", ForeignKey("treatment.id", ondelete="CASCADE"), primary_key=True),
)


class Treatment(Base):
    """A bookable treatment or consultation."""

    __tablename__ = "treatment"
    __table_args__ = (
        CheckConstraint("kind IN ('consultation', 'treatment')", name="kind_known"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="buffers_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="treatment")
    body_area: Mapped[str | None] = mapped_column(String(20))
    duration_minutes: Mapped[int]
    buffer_before_minutes: Mapped[int] = mapped_column(default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(default=0)
    needs_room: Mapped[bool] = mapped_column(default=True)
    color: Mapped[str] = mapped_column(String(7), default="#4a7fb5")
    active: Mapped[bool] = mapped_column(default=True)
    # The price of one session in the clinic's currency's minor unit (cents); None: "on request".
    price_cents: Mapped[int | None]

    protocol: Mapped["Protocol | None"] = relationship(
        back_populates="treatment",
        cascade="all, delete-orphan",
        uselist=False,
        foreign_keys="Protocol.treatment_id",
    )
    practitioners: Mapped[list["Practitioner"]] = relationship(  # noqa: F821
        secondary=practitioner_treatments, back_populates="treatments"
    )
    rooms: Mapped[list["Room"]] = relationship(  # noqa: F821
        secondary=room_treatments, back_populates="treatments"
    )


class Protocol(Base):
    """How a treatment is given: the series, its intervals, the consultation rule and aftercare."""

    __tablename__ = "protocol"
    __table_args__ = (
        CheckConstraint("sessions >= 1", name="sessions_positive"),
        CheckConstraint(
            "interval_min_days IS NULL OR "
            "(interval_min_days <= interval_target_days AND interval_target_days <= interval_max_days)",
            name="interval_ordered",
        ),
        CheckConstraint("aftercare_hours >= 0", name="aftercare_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(
        ForeignKey("treatment.id", ondelete="CASCADE"), unique=True
    )
    sessions: Mapped[int] = mapped_column(default=1)
    interval_min_days: Mapped[int | None]
    interval_target_days: Mapped[int | None]
    interval_max_days: Mapped[int | None]
    consultation_treatment_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment.id", ondelete="SET NULL")
    )
    consultation_min_days_before: Mapped[int] = mapped_column(default=0)
    consultation_valid_days: Mapped[int] = mapped_column(default=180)
    aftercare_hours: Mapped[int] = mapped_column(default=0)
    maintenance_interval_days: Mapped[int | None]
    # Intake question codes that contraindicate this treatment (see booking.models.people.INTAKE_QUESTIONS).
    contraindications: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Prep confirmation (issue 14): the patient is asked to confirm their prep this many hours
    # before a session (None: never asked), and reception calls when no answer has come this
    # many hours before it.
    prep_confirm_hours: Mapped[int | None]
    prep_answer_by_hours: Mapped[int] = mapped_column(default=24)

    treatment: Mapped[Treatment] = relationship(
        back_populates="protocol", foreign_keys=[treatment_id]
    )
    consultation_treatment: Mapped[Treatment | None] = relationship(
        foreign_keys=[consultation_treatment_id]
    )
    prep_rules: Mapped[list["PrepRule"]] = relationship(
        back_populates="protocol",
        cascade="all, delete-orphan",
        order_by="(PrepRule.lead_hours.desc(), PrepRule.id)",
    )
    aftercare_rules: Mapped[list["AftercareRule"]] = relationship(  # noqa: F821
        back_populates="protocol",
        cascade="all, delete-orphan",
        order_by="(AftercareRule.hours, AftercareRule.id)",
    )


class PrepRule(Base):
    """Something the patient must do ahead of a session, and how long ahead."""

    __tablename__ = "prep_rule"
    __table_args__ = (CheckConstraint("lead_hours >= 0", name="lead_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(
        ForeignKey("protocol.id", ondelete="CASCADE"), index=True
    )
    instruction: Mapped[str] = mapped_column(String(200))
    lead_hours: Mapped[int]
    remind: Mapped[bool] = mapped_column(default=True)

    protocol: Mapped[Protocol] = relationship(back_populates="prep_rules")
