"""The data model, one module per area; importing this package registers every table."""

from booking.models.access import ApiToken, FeedToken, IdempotencyRecord
from booking.models.appointments import (
    APPOINTMENT_STATUSES,
    BLOCKING_STATUSES,
    BUSY_STATUSES,
    HELD,
    Appointment,
    Series,
)
from booking.models.audit import AuditEvent
from booking.models.base import Base, UTCDateTime, utcnow
from booking.models.catalog import PrepRule, Protocol, Treatment
from booking.models.clinic import ClinicClosure, ClinicSettings, Room, RoomClosure
from booking.models.course import PREP_CHECK_STATUSES, RECALL_STATUSES, AftercareRule, PrepCheck, Recall
from booking.models.offers import OFFER_STATUSES, WAITLIST_STATUSES, Offer, WaitlistRequest
from booking.models.outbox import OutboxMessage
from booking.models.people import (
    INTAKE_QUESTIONS,
    ROLES,
    STAFF_ROLES,
    Break,
    Clearance,
    DateException,
    Intake,
    Practitioner,
    TimeOff,
    User,
    WorkingHours,
)

__all__ = [
    "PREP_CHECK_STATUSES",
    "RECALL_STATUSES",
    "AftercareRule",
    "PrepCheck",
    "Recall",
    "APPOINTMENT_STATUSES",
    "BLOCKING_STATUSES",
    "BUSY_STATUSES",
    "HELD",
    "OFFER_STATUSES",
    "WAITLIST_STATUSES",
    "Offer",
    "WaitlistRequest",
    "INTAKE_QUESTIONS",
    "ROLES",
    "STAFF_ROLES",
    "ApiToken",
    "Appointment",
    "AuditEvent",
    "Base",
    "Break",
    "Clearance",
    "ClinicClosure",
    "ClinicSettings",
    "DateException",
    "FeedToken",
    "IdempotencyRecord",
    "Intake",
    "OutboxMessage",
    "Practitioner",
    "PrepRule",
    "Protocol",
    "Room",
    "RoomClosure",
    "Series",
    "TimeOff",
    "Treatment",
    "User",
    "UTCDateTime",
    "WorkingHours",
    "utcnow",
]
