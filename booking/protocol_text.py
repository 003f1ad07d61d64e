"""A treatment's protocol in plain words, for patients ("4 sessions, about every 2 weeks"), in
the language of the request (issue 16; English outside a request, as in mail rendered by a
worker)."""

from __future__ import annotations

from flask_babel import gettext, ngettext

from booking.models import Protocol


def lead_time(hours: int) -> str:
    """72 -> "3 days", 24 -> "1 day", 12 -> "12 hours"."""
    if hours >= 24 and hours % 24 == 0:
        return ngettext("%(num)d day", "%(num)d days", hours // 24)
    return ngettext("%(num)d hour", "%(num)d hours", hours)


def cadence(days: int) -> str:
    """14 -> "every 2 weeks", 10 -> "every 10 days", 7 -> "every week"."""
    if days == 7:
        return gettext("every week")
    if days % 7 == 0:
        return gettext("every %(num)d weeks", num=days // 7)
    return gettext("every %(num)d days", num=days)


def describe_series(protocol: Protocol | None) -> str:
    """"4 sessions, about every 2 weeks (10-21 days apart)" or "a single visit"."""
    if protocol is None or protocol.sessions <= 1 or protocol.interval_target_days is None:
        return gettext("A single visit")
    return ngettext("%(num)d session, about %(cadence)s (%(low)d–%(high)d days apart)",
                    "%(num)d sessions, about %(cadence)s (%(low)d–%(high)d days apart)", protocol.sessions,
                    cadence=cadence(protocol.interval_target_days), low=protocol.interval_min_days,
                    high=protocol.interval_max_days)


def describe_prep(protocol: Protocol | None) -> list[str]:
    """Each prep rule as "Stop aspirin and NSAIDs: 7 days before"."""
    if protocol is None:
        return []
    return [gettext("%(instruction)s: %(lead)s before", instruction=rule.instruction, lead=lead_time(rule.lead_hours))
            for rule in protocol.prep_rules]


def describe_rules(protocol: Protocol | None) -> list[str]:
    """The consultation and aftercare rules in words."""
    if protocol is None:
        return []
    lines = []
    if protocol.consultation_treatment_id is not None:
        lines.append(ngettext(
            "A consultation first, at least %(num)d day before the first session (valid %(valid)d days)",
            "A consultation first, at least %(num)d days before the first session (valid %(valid)d days)",
            protocol.consultation_min_days_before, valid=protocol.consultation_valid_days))
    if protocol.aftercare_hours:
        lines.append(gettext("Aftercare: no other treatment on the same area for %(lead)s",
                             lead=lead_time(protocol.aftercare_hours)))
    return lines
