"""What the clinic offers: treatments, their protocols and prep rules; and the texts the clinic
writes in more than one language (``Translated``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.i18n import reading_language
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


def translated(field: str) -> hybrid_property:
    """A text the clinic writes, read in the current language (issue 16).

    The column attribute ``<field>_default`` keeps the text in the clinic's default language
    (the database column keeps its old name); ``translations[language][field]`` holds the others.
    Reading gives the current language's text when there is one, else the default; writing and
    queries (``where``, ``order_by``) use the default column.
    """
    column = f"{field}_default"

    def read(self: Translated) -> str:
        return self.text_in(reading_language(), field)

    def write(self: Translated, value: str) -> None:
        setattr(self, column, value)

    def expression(cls: type) -> Any:
        return getattr(cls, column)

    read.__name__ = write.__name__ = expression.__name__ = field  # the name a select labels it with
    return hybrid_property(read, write, expr=expression)


class Translated:
    """A row with texts in more than one language: ``translations`` maps a language to its
    texts ({"it": {"name": "...", "description": "..."}}); an empty or missing one falls back
    to the default column. Subclasses list their texts in ``TRANSLATED_FIELDS``."""

    TRANSLATED_FIELDS: tuple[str, ...] = ()

    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)

    def default_text(self, field: str) -> str:
        """The text in the clinic's default language (what the admin form edits)."""
        return getattr(self, f"{field}_default") or ""

    def text_in(self, language: str | None, field: str) -> str:
        """The text in ``language`` when it has been written, else the default one."""
        if language:
            text = ((self.translations or {}).get(language) or {}).get(field)
            if text:
                return text
        return self.default_text(field)

    def translation(self, language: str, field: str) -> str:
        """Only the text written for ``language`` ("" when none)."""
        return ((self.translations or {}).get(language) or {}).get(field) or ""

    def set_translation(self, language: str, **texts: str | None) -> None:
        """Set some texts in ``language``; an empty one is removed (it falls back again).
        A fresh dict is assigned so the change is saved."""
        unknown = set(texts) - set(self.TRANSLATED_FIELDS)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no translatable {', '.join(sorted(unknown))}")
        everything = {lang: dict(values) for lang, values in (self.translations or {}).items()}
        mine = everything.setdefault(language, {})
        for field, text in texts.items():
            text = (text or "").replace("\r\n", "\n").strip()  # browsers post text areas with CRLF
            if text:
                mine[field] = text
            else:
                mine.pop(field, None)
        if not mine:
            del everything[language]
        self.translations = everything

    def switch_default_language(self, old: str, new: str) -> None:
        """The clinic's default language changes from ``old`` to ``new``: the texts written in
        ``new`` become the default ones, and the default texts they replace are kept as the
        ``old`` translation (unless one was written there already). A text never written in
        ``new`` stays the default, as the fallback it was."""
        written = (self.translations or {}).get(new) or {}
        if old == new or not written:
            return
        everything = {lang: dict(values) for lang, values in (self.translations or {}).items() if lang != new}
        kept = everything.setdefault(old, {})
        for field in self.TRANSLATED_FIELDS:
            if not written.get(field):
                continue
            replaced = self.default_text(field)
            if replaced and not kept.get(field):
                kept[field] = replaced
            setattr(self, f"{field}_default", written[field])
        if not kept:
            del everything[old]
        self.translations = everything


class Treatment(Translated, Base):
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
    name_default: Mapped[str] = mapped_column("name", String(120))
    description_default: Mapped[str] = mapped_column("description", Text, default="")
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

    TRANSLATED_FIELDS = ("name", "description")
    name = translated("name")
    description = translated("description")


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


class PrepRule(Translated, Base):
    """Something the patient must do ahead of a session, and how long ahead."""

    __tablename__ = "prep_rule"
    __table_args__ = (CheckConstraint("lead_hours >= 0", name="lead_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(
        ForeignKey("protocol.id", ondelete="CASCADE"), index=True
    )
    instruction_default: Mapped[str] = mapped_column("instruction", String(200))
    lead_hours: Mapped[int]
    remind: Mapped[bool] = mapped_column(default=True)

    protocol: Mapped[Protocol] = relationship(back_populates="prep_rules")

    TRANSLATED_FIELDS = ("instruction",)
    instruction = translated("instruction")
