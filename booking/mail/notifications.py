"""The messages a booking change sends, queued in the outbox with their invites.

Discreet by default: a patient's mail can be seen by others (a shared inbox, a lock screen), so
subjects and bodies name the clinic, the date and the time, never the treatment or a prep
instruction, unless the clinic turns treatment names on (``show_treatment_in_invites``, the same
setting as the invites' summaries). The prep steps are then behind the signed-in portal link.

An iTIP message carries one UID (RFC 5546 §3.2), so a series gets one summary e-mail without
an invite and then one invite e-mail per session. Each function takes the ``mail`` renderer
to write with (default: the one ``create_app`` installed, see ``booking.mail.rendering``).

Each message is written in its reader's language (issue 16): the patient's saved preference,
else the clinic's default, whoever made it go out (a receptionist working in English books for
an Italian patient: the patient's mail and invite are Italian).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext, ngettext

from booking.calendar import invites
from booking.i18n import format_local
from booking.mail import rendering
from booking.mail.outbox import enqueue
from booking.mail.rendering import MailRenderer, written_for
from booking.models import Appointment, ClinicSettings, OutboxMessage, Series
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline


def at_time(moment: datetime, settings: ClinicSettings) -> str:
    """"Tue 10 Mar 2026, 10:00 (Europe/Rome)" in the current language ("mar 10 mar 2026, ...")."""
    return f"{format_local(moment, 'EEE dd MMM y, HH:mm', settings.timezone)} ({settings.timezone})"


def when(appointment: Appointment, settings: ClinicSettings) -> str:
    """"Tue 10 Mar 2026, 10:00 (Europe/Rome)": when the appointment starts, in the current language."""
    return at_time(appointment.start_at, settings)


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
    with written_for(appointment.patient, settings):
        summary, at = invites.invite_summary(appointment, settings), when(appointment, settings)
        subject = (gettext("Booked: %(summary)s, %(when)s", summary=summary, when=at) if kind == "booked"
                   else gettext("Moved: %(summary)s, now %(when)s", summary=summary, when=at))
        _queue_about(appointment, settings, mail, template=kind, kind=f"appointment.{kind}", subject=subject,
                     dedupe_key=f"invite:{appointment.ical_uid}:{appointment.ical_sequence}",
                     ics=invites.build_request(appointment, settings, mail.manage_url), ics_method="REQUEST")


def queue_invite_again(appointment: Appointment, settings: ClinicSettings, *,
                       mail: MailRenderer | None = None) -> OutboxMessage | None:
    """Queue the current invite once more (same UID and SEQUENCE: calendars just confirm the event)."""
    mail = mail or rendering.installed()
    with written_for(appointment.patient, settings):
        return _queue_about(
            appointment, settings, mail, template="booked", kind="appointment.invite_resent",
            subject=gettext("Your appointment: %(summary)s, %(when)s",
                            summary=invites.invite_summary(appointment, settings), when=when(appointment, settings)),
            # The original invite holds invite:<uid>:<sequence>; a copy needs a key of its own.
            dedupe_key=f"invite:{appointment.ical_uid}:{appointment.ical_sequence}:resent:{utcnow().isoformat()}",
            ics=invites.build_request(appointment, settings, mail.manage_url), ics_method="REQUEST")


def queue_cancel(appointment: Appointment, settings: ClinicSettings, *, patient_message: str | None = None,
                 mail: MailRenderer | None = None) -> None:
    """Queue the CANCEL of an appointment, with the clinic's message to the patient if any (the
    internal cancel reason is never part of it)."""
    with written_for(appointment.patient, settings):
        _queue_about(appointment, settings, mail or rendering.installed(), template="cancelled",
                     patient_message=patient_message,
                     kind="appointment.cancelled",
                     subject=gettext("Cancelled: %(summary)s, %(when)s",
                                     summary=invites.invite_summary(appointment, settings),
                                     when=when(appointment, settings)),
                     dedupe_key=f"cancel:{appointment.ical_uid}:{appointment.ical_sequence}",
                     ics=invites.build_cancel(appointment, settings), ics_method="CANCEL")


def queue_series_confirmation(series: Series, appointments: list[Appointment], settings: ClinicSettings, *,
                              mail: MailRenderer | None = None) -> None:
    """Queue the one summary of a booked series, then one invite per session."""
    mail = mail or rendering.installed()
    with written_for(series.patient, settings):
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
            subject=ngettext("Your %(num)d session at %(clinic)s is booked",
                             "Your %(num)d sessions at %(clinic)s are booked", len(appointments), clinic=settings.name),
            body_text=text,
            body_html=html,
            dedupe_key=f"series:{series.id}:booked",
        )
    for appointment in appointments:
        queue_invite(appointment, settings, "booked", mail=mail)


def queue_reminder(appointment: Appointment, settings: ClinicSettings, dedupe_key: str, *,
                   mail: MailRenderer | None = None) -> None:
    """Queue the appointment reminder (no invite: the calendar already has the event)."""
    with written_for(appointment.patient, settings):
        _queue_about(appointment, settings, mail or rendering.installed(), template="reminder",
                     kind="appointment.reminder",
                     subject=gettext("Reminder: %(summary)s, %(when)s",
                                     summary=invites.invite_summary(appointment, settings),
                                     when=when(appointment, settings)),
                     dedupe_key=dedupe_key)


def queue_prep_reminder(appointment: Appointment, rule, settings: ClinicSettings, dedupe_key: str, *,
                        mail: MailRenderer | None = None) -> None:
    """Queue the reminder of one prep step, sent at the step's lead time."""
    with written_for(appointment.patient, settings):
        at = when(appointment, settings)
        _queue_about(appointment, settings, mail or rendering.installed(), template="prep_reminder",
                     kind="appointment.prep_reminder",
                     subject=(gettext("From today: %(instruction)s (appointment %(when)s)",
                                      instruction=rule.instruction, when=at)
                              if named(settings) else
                              gettext("Preparing for your appointment at %(clinic)s, %(when)s",
                                      clinic=settings.name, when=at)),
                     dedupe_key=dedupe_key, rule=rule)


def queue_registration_attempt(user, settings: ClinicSettings, *, mail: MailRenderer | None = None) -> OutboxMessage:
    """Tell an account's owner that someone tried to register with its e-mail (nothing changed).

    The visitor saw the same answer as for a new account, so only the owner learns of it; the
    message holds nothing the visitor typed, only where to sign in or reset the password.
    """
    mail = mail or rendering.installed()
    with written_for(user, settings):
        text, html = mail.render("registration_attempt", user=user, clinic=settings,
                                 login_url=f"{mail.base_url}/login", reset_url=f"{mail.base_url}/reset")
        return enqueue(kind="account.registration_attempt", to_addr=user.email,
                       subject=gettext("Someone tried to register at %(clinic)s with your e-mail",
                                       clinic=settings.name),
                       body_text=text, body_html=html)
