"""The JSON API's request and response shapes (pydantic), from which OpenAPI is generated."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from booking.scheduling.text import N_
from booking.web.forms_base import control_characters

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _in_service_years(moment: datetime) -> datetime:
    """Refuse datetimes outside 2000-2100: nothing is booked there, and date arithmetic on
    values near datetime.max would overflow."""
    if not EARLIEST <= moment.date() <= LATEST:
        raise ValueError(N_("must be between the years 2000 and 2100"))
    return moment


def _no_control_characters(value: str) -> str:
    """Refuse control characters other than line breaks and tabs (NUL cannot be stored in
    PostgreSQL text; the rest break mail headers, logs and calendars): the forms' rule."""
    if control_characters(value, multi_line=True):
        raise ValueError(N_("must not contain control characters"))
    return value


def _one_line(value: str) -> str:
    """Refuse every control character, line breaks included (slugs, e-mails, keys)."""
    if control_characters(value):
        raise ValueError(N_("must not contain control characters or line breaks"))
    return value


# Dates, times, ids and text as the API accepts them.
Day = Annotated[date, Field(ge=EARLIEST, le=LATEST)]
Moment = Annotated[AwareDatetime, AfterValidator(_in_service_years)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]  # the database's integer range
Text = Annotated[str, AfterValidator(_no_control_characters)]
Line = Annotated[str, AfterValidator(_one_line)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos are reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------
class ProblemOut(BaseModel):
    code: str = Field(description="Stable rule code, e.g. slot_taken, prep_window")
    message: str
    session_index: int | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[ProblemOut] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- auth ---------------------------------------------------------------------------------
class TokenIn(Strict):
    email: Line = Field(min_length=3, max_length=254)
    password: Line = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


# --- catalog ------------------------------------------------------------------------------
class IntervalDays(BaseModel):
    min: int | None
    target: int | None
    max: int | None


class PrepOut(BaseModel):
    instruction: str
    lead_hours: int


class ProtocolOut(BaseModel):
    sessions: int
    interval_days: IntervalDays
    requires_consultation: bool
    aftercare_hours: int
    prep: list[PrepOut]


class TreatmentOut(BaseModel):
    slug: str
    name: str
    kind: Literal["consultation", "treatment"]
    duration_minutes: int
    body_area: str | None
    protocol: ProtocolOut


class TreatmentList(RootModel[list[TreatmentOut]]):
    """A bare JSON array of treatments."""


class PractitionerOut(BaseModel):
    id: int
    name: str
    treatments: list[str]


class PractitionerList(RootModel[list[PractitionerOut]]):
    """A bare JSON array of practitioners."""


# --- availability and plans -----------------------------------------------------------------
class AvailabilityQuery(BaseModel):
    treatment: Line = Field(min_length=1, max_length=80)
    start: Day
    end: Day
    practitioner: Id | None = None


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    practitioner_id: int


class AvailabilityOut(BaseModel):
    slots: list[SlotOut]
    treatment: str = Field(description="The treatment these slots are for (the consultation, for a patient who needs one first)")
    note: str | None = None


class PlanIn(Strict):
    treatment: Line = Field(min_length=1, max_length=80)
    first_start: Moment
    practitioner_id: Id | None = None
    patient_id: Id | None = None
    avoid_dates: list[Day] = Field(default_factory=list, max_length=30)


class PlannedSessionOut(BaseModel):
    index: int
    start: datetime
    end: datetime
    practitioner_id: int | None
    placed: bool
    alternatives: list[SlotOut]


class PlanOut(BaseModel):
    sessions: list[PlannedSessionOut]
    problems: list[ProblemOut]


# --- appointments and series ----------------------------------------------------------------
class AppointmentOut(BaseModel):
    id: int
    treatment: str
    patient_id: int
    practitioner_id: int
    room_id: int | None
    start: datetime
    end: datetime
    status: Literal["booked", "checked_in", "completed", "cancelled", "no_show"]
    series_id: int | None
    series_index: int | None


class AppointmentIn(Strict):
    treatment: Line = Field(min_length=1, max_length=80)
    start: Moment
    practitioner_id: Id
    patient_id: Id | None = None
    override_reason: Text | None = Field(default=None, max_length=500)


class SessionIn(Strict):
    start: Moment
    practitioner_id: Id


class SeriesIn(Strict):
    treatment: Line = Field(min_length=1, max_length=80)
    sessions: list[SessionIn] = Field(min_length=1, max_length=20)
    patient_id: Id | None = None
    override_reason: Text | None = Field(default=None, max_length=500)
    avoid_dates: list[Day] = Field(default_factory=list, max_length=30)


class SeriesOut(BaseModel):
    id: int
    treatment: str
    patient_id: int
    status: str
    appointments: list[AppointmentOut]


class AppointmentList(RootModel[list[AppointmentOut]]):
    """A bare JSON array of appointments."""


class AppointmentsQuery(BaseModel):
    start: Day | None = None
    end: Day | None = None


class AppointmentPath(BaseModel):
    appointment_id: Id


class AppointmentPatch(Strict):
    start: Moment
    practitioner_id: Id | None = None
    override_reason: Text | None = Field(default=None, max_length=500)
    replan_following: bool = Field(default=False, description="Re-plan the later sessions of the series from the new time")


class CancelIn(Strict):
    reason: Text | None = Field(default=None, max_length=500)
    rest_of_series: bool = Field(default=False, description="Also cancel every later session of the series")
    override_reason: Text | None = Field(default=None, max_length=500)


# --- feeds --------------------------------------------------------------------------------
class FeedIn(Strict):
    scope: Literal["practitioner", "room", "patient", "clinic"]
    id: Id | None = None


class FeedOut(BaseModel):
    id: int
    scope: str
    url: str


class FeedPath(BaseModel):
    feed_id: Id


class IdempotencyHeader(BaseModel):
    """Send the same ``Idempotency-Key`` again to get the first result back and book nothing more."""

    idempotency_key: Line | None = Field(default=None, alias="Idempotency-Key", max_length=200)


# --- health questionnaire -------------------------------------------------------------------
class QuestionOut(BaseModel):
    key: str = Field(description="The answer's key in answers, e.g. pregnant")
    text: str


class IntakeOut(BaseModel):
    questions: list[QuestionOut]
    answers: dict[str, bool] | None = Field(description="Question key to yes (true) or no (false); null when never filled in")
    notes: str | None = Field(description="Anything else the patient told the clinic; null when never filled in")
    completed_at: datetime | None = Field(description="When the questionnaire was last saved; null when never filled in")


class IntakeIn(Strict):
    answers: dict[Annotated[str, Field(max_length=40)], Annotated[bool, Field(strict=True)]] = Field(
        max_length=40, description="Every question's key (see GET /api/v1/intake) to true or false; no more, no less")
    notes: Text = Field(default="", max_length=2000)


class PrepStepOut(BaseModel):
    key: str = Field(description="The step's stable key, used in answers")
    instruction: str
    due: datetime = Field(description="When the step begins")


class ChecklistOut(BaseModel):
    steps: list[PrepStepOut]
    answers: dict[str, str] = Field(description='Step key to "done" or "not_done"; empty until answered')
    status: str = Field(description='"pending", "prepared", "needs_attention" or "callback"')
    answered_at: datetime | None
    alternatives: list[SlotOut] = Field(description="With needs_attention: free times in the series window that leave enough time to prepare")


class PrepIn(Strict):
    answers: dict[Annotated[str, Field(max_length=40)], Literal["done", "not_done"]] = Field(
        max_length=40, description='Every step\'s key to "done" or "not_done"; no more, no less')
    callback: bool = Field(default=False, description="Ask the clinic to call the patient")


class HoldIn(Strict):
    treatment: Line = Field(min_length=1, max_length=80)
    start: Moment
    practitioner_id: Id
    patient_id: Id | None = None
    minutes: int | None = Field(default=None, ge=1, le=24 * 60, description="How long to hold (default 15)")


class HoldOut(BaseModel):
    id: int
    treatment: str
    patient_id: int
    practitioner_id: int
    start: datetime
    end: datetime
    expires_at: datetime


class HoldPath(BaseModel):
    hold_id: Id


class OfferOut(BaseModel):
    id: int
    kind: Literal["waitlist", "replan"]
    status: str
    appointment_id: int | None = Field(description="The appointment a re-planning offer moves")
    holds: list[HoldOut]
    expires_at: datetime


class OfferList(RootModel[list[OfferOut]]):
    pass


class OfferPath(BaseModel):
    offer_id: Id


class OfferAccept(Strict):
    hold_id: Id | None = Field(default=None, description="Which of the offer's times (default: the first)")


# ---- the waitlist (issue 15) -----------------------------------------------------------------
class WaitlistIn(Strict):
    treatment: Line | None = Field(default=None, min_length=1, max_length=80,
                                   description="The treatment (needed unless appointment_id is given)")
    appointment_id: Id | None = Field(default=None, description="A booked session to move earlier or elsewhere")
    patient_id: Id | None = Field(default=None, description="Reception and admins: the patient this is for")
    latest: Day | None = Field(default=None, description="The latest acceptable date (local)")
    practitioner_ids: list[Id] = Field(default_factory=list, max_length=50, description="Empty: anyone qualified")
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list, max_length=7,
                                                              description="0 = Monday; empty: any day")
    from_time: time | None = Field(default=None, description="Not before this local time of day")
    to_time: time | None = Field(default=None, description="Ending by this local time of day")


class WaitlistOut(BaseModel):
    id: int
    status: Literal["waiting", "offered", "booked", "withdrawn", "expired"]
    patient_id: int
    treatment: str
    appointment_id: int | None
    latest: date | None
    practitioner_ids: list[int]
    weekdays: list[int]
    from_time: time | None
    to_time: time | None
    created_at: datetime
    offer_ids: list[int] = Field(description="Offers made for this request, oldest first")


class WaitlistList(RootModel[list[WaitlistOut]]):
    pass


class WaitlistPath(BaseModel):
    request_id: Id
