"""The messages a booking change sends, queued in the outbox with their invites.

Discreet by default: a patient's mail can be seen by others (a shared inbox, a lock screen), so
subjects and bodies name the clinic, the date and the time, never the treatment or a prep
instruction, unless the clinic turns treatment names on (``show_treatment_in_invites``, the same
setting as the invites' summaries). The prep steps are then behind the signed-in portal link.

An iTIP message carries one UID (RFC 5546 §3.2), so a series gets one summary e-mail without
an invite and then one invite e-mail per session. Each function takes the ``mail`` renderer
to write with (default: the one ``create_app`` installed, see ``booking.mail.rendering``).
"""

from __future__ import annotations

from booking.calendar import invites
from booking.mail import rendering
from booking.mail.outbox import enqueue
from booking.mail.rendering import MailRenderer
from booking.models import Appointment, ClinicSettings, OutboxMessage, Series
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline


def when(appointment: Appointment, settings: ClinicSettings) -> str:
    """"Tue 10 Mar 2026, 10:00 (Europe/Rome)"."""
    local = to_local(appointment.start_at, settings.timezone)
    return f"{local:%a %d %b %Y, %H:%M} ({settings.timezone})"


def named(settings: ClinicSettings) -> bool:
    """Whether the clinic lets patients' mail name the treatment and its prep steps."""
    return bool(settings.show_treatment_in_invites)


def _queue_about(
    appointment: Appointment, settings: ClinicSettings, mail: MailRenderer, *, template: str, kind: str,
    subject: str, dedupe_key: str, ics: bytes | None = None, ics_method: str | None = None, **context,
) -> OutboxMessage:
    """Render ``templates/mail/<template>`` about one appointment and queue it to its patient."""
    text, html = mail.render(template, appointment=appointment, clinic=settings, when=when(appointment, settings),
                             manage_url=mail.manage_url, named=named(settings), **context)
    return enqueue(kind=kind, to_addr=appointment.patient.email, subject=subject, body_text=text, body_html=html,
            ics=ics.decode() if ics is not None else None, ics_method=ics_method,
            appointment_id=appointment.id, dedupe_key=dedupe_key)


def queue_invite(appointment: Appointment, settings: ClinicSettings, kind: str, *,
                 mail: MailRenderer | None = None) -> None:
    """Queue the REQUEST invite of a new ("booked") or moved ("moved") appointment."""
    mail = mail or rendering.installed()
    summary, at = invites.invite_summary(appointment, settings), when(appointment, settings)
    subject = {"booked": f"Booked: {summary}, {at}", "moved": f"Moved: {summary}, now {at}"}[kind]
    _queue_about(appointment, settings, mail, template=kind, kind=f"appointment.{kind}", subject=subject,
                 dedupe_key=f"invite:{appointment.ical_uid}:{appointment.ical_sequence}",
                 ics=invites.build_request(appointment, settings, mail.manage_url), ics_method="REQUEST")


def queue_invite_again(appointment: Appointment, settings: ClinicSettings, *,
                       mail: MailRenderer | None = None) -> OutboxMessage | None:
    """Queue the current invite once more (same UID and SEQUENCE: calendars just confirm the event)."""
    mail = mail or rendering.installed()
    return _queue_about(
        appointment, settings, mail, template="booked", kind="appointment.invite_resent",
        subject=f"Your appointment: {invites.invite_summary(appointment, settings)}, {when(appointment, settings)}",
        # The original invite holds invite:<uid>:<sequence>; a copy needs a key of its own.
        dedupe_key=f"invite:{appointment.ical_uid}:{appointment.ical_sequence}:resent:{utcnow().isoformat()}",
        ics=invites.build_request(appointment, settings, mail.manage_url), ics_method="REQUEST")


def queue_cancel(appointment: Appointment, settings: ClinicSettings, *, patient_message: str | None = None,
                 mail: MailRenderer | None = None) -> None:
    """Queue the CANCEL of an appointment, with the clinic's message to the patient if any (the
    internal cancel reason is never part of it)."""
    _queue_about(appointment, settings, mail or rendering.installed(), template="cancelled",
                 patient_message=patient_message,
                 kind="appointment.cancelled",
                 subject=f"Cancelled: {invites.invite_summary(appointment, settings)}, {when(appointment, settings)}",
                 dedupe_key=f"cancel:{appointment.ical_uid}:{appointment.ical_sequence}",
                 ics=invites.build_cancel(appointment, settings), ics_method="CANCEL")


def queue_series_confirmation(series: Series, appointments: list[Appointment], settings: ClinicSettings, *,
                              mail: MailRenderer | None = None) -> None:
    """Queue the one summary of a booked series, then one invite per session."""
    mail = mail or rendering.installed()
    sessions = [(a, when(a, settings)) for a in appointments]
    protocol = series.treatment.protocol
    steps = [PrepStep(r.instruction, r.lead_hours, r.remind) for r in (protocol.prep_rules if protocol else [])]
    timeline = prep_timeline([a.start_at for a in appointments], steps, settings.timezone)
    text, html = mail.render("series_booked", series=series, sessions=sessions, clinic=settings,
                             manage_url=mail.manage_url, treatment=series.treatment, named=named(settings),
                             timeline=[(e, to_local(e.at, settings.timezone)) for e in timeline])
    enqueue(
        kind="series.booked",
        to_addr=series.patient.email,
        subject=f"Your {len(appointments)} sessions at {settings.name} are booked",
        body_text=text,
        body_html=html,
        dedupe_key=f"series:{series.id}:booked",
    )
    for appointment in appointments:
        queue_invite(appointment, settings, "booked", mail=mail)


def queue_reminder(appointment: Appointment, settings: ClinicSettings, dedupe_key: str, *,
                   mail: MailRenderer | None = None) -> None:
    """Queue the appointment reminder (no invite: the calendar already has the event)."""
    _queue_about(appointment, settings, mail or rendering.installed(), template="reminder",
                 kind="appointment.reminder",
                 subject=f"Reminder: {invites.invite_summary(appointment, settings)}, {when(appointment, settings)}",
                 dedupe_key=dedupe_key)


def queue_prep_reminder(appointment: Appointment, rule, settings: ClinicSettings, dedupe_key: str, *,
                        mail: MailRenderer | None = None) -> None:
    """Queue the reminder of one prep step, sent at the step's lead time."""
    _queue_about(appointment, settings, mail or rendering.installed(), template="prep_reminder",
                 kind="appointment.prep_reminder",
                 subject=(f"From today: {rule.instruction} (appointment {when(appointment, settings)})"
                          if named(settings) else
                          f"Preparing for your appointment at {settings.name}, {when(appointment, settings)}"),
                 dedupe_key=dedupe_key, rule=rule)


def queue_registration_attempt(user, settings: ClinicSettings, *, mail: MailRenderer | None = None) -> OutboxMessage:
    """Tell an account's owner that someone tried to register with its e-mail (nothing changed).

    The visitor saw the same answer as for a new account, so only the owner learns of it; the
    message holds nothing the visitor typed, only where to sign in or reset the password.
    """
    mail = mail or rendering.installed()
    text, html = mail.render("registration_attempt", user=user, clinic=settings,
                             login_url=f"{mail.base_url}/login", reset_url=f"{mail.base_url}/reset")
    return enqueue(kind="account.registration_attempt", to_addr=user.email,
                   subject=f"Someone tried to register at {settings.name} with your e-mail",
                   body_text=text, body_html=html)
