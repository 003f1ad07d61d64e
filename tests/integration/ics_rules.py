"""Strict checks every .ics the app emits must pass: two independent parsers and RFC 5545 rules."""

from __future__ import annotations

import vobject
from icalendar import Calendar


def assert_valid_ics(data: bytes, *, itip: str | None = None) -> Calendar:
    """Parse ``data`` with icalendar and vobject and check the RFC 5545/5546 rules we rely on.

    ``itip`` is the expected METHOD (REQUEST/CANCEL) for invites, or None for feeds (no METHOD).
    """
    text = data.decode("utf-8")
    assert text.endswith("\r\n"), "content lines end with CRLF"
    assert "\n" not in text.replace("\r\n", ""), "no bare LF"
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"

    calendar = Calendar.from_ical(data)  # icalendar raises on malformed content
    parsed = vobject.readOne(text, validate=True)  # the second, independent parser
    assert parsed.name == "VCALENDAR"
    assert str(calendar["VERSION"]) == "2.0" and calendar.get("PRODID")
    if itip is None:
        assert "METHOD" not in calendar, "a subscription feed carries no METHOD"
    else:
        assert str(calendar["METHOD"]) == itip
        assert len({str(e["UID"]) for e in calendar.walk("VEVENT")}) == 1, "an iTIP message has one UID"

    events = calendar.walk("VEVENT")
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids)), "UIDs are unique"
    used_tzids = set()
    for event in events:
        for name in ("UID", "DTSTAMP", "DTSTART"):
            assert name in event, f"{name} is required"
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert end > start, "DTEND after DTSTART"
        for name in ("DTSTART", "DTEND"):
            tzid = event[name].params.get("TZID")
            if tzid:
                used_tzids.add(tzid)
        if itip == "CANCEL":
            assert not event.walk("VALARM"), "a CANCEL carries no VALARM"
            assert str(event["STATUS"]) == "CANCELLED"
    defined = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert used_tzids <= defined, f"VTIMEZONE missing for {used_tzids - defined}"
    assert len(defined) == len(calendar.walk("VTIMEZONE")), "one VTIMEZONE per TZID"
    vevents = [c for c in parsed.getChildren() if c.name == "VEVENT"]
    assert len(vevents) == len(events)
    return calendar
