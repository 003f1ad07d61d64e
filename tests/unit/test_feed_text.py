"""The feed writer's escaping and line folding (RFC 5545 §3.1, §3.3.11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from booking.calendar.feeds import FeedEvent, FeedPrep, FeedSpec, build_feed, escape, fold, initials
from booking.models import ClinicSettings


def test_text_escaping():
    assert escape("Rossi, Anna; face\\neck\nnext") == "Rossi\\, Anna\\; face\\\\neck\\nnext"


def test_folding_keeps_lines_within_75_octets_and_never_splits_a_character():
    line = "SUMMARY:" + "Trattamento è già prenotato · " * 10
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line
    assert fold("SHORT:line") == "SHORT:line"


def test_initials():
    assert initials("anna maria rossi") == "A. M."
    assert initials("  ") == "?"


# --- whole feeds: the exact text, whatever is reused between events --------------------------

def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


SETTINGS = ClinicSettings(id=1, name="Villa Rosa", timezone="Europe/Rome", address="Via Roma 1, Milano",
                          show_treatment_in_invites=False)
EVENTS = [
    # microseconds are dropped; the same slot and room as the third event
    FeedEvent("a-1@clinic", 0, _utc(2026, 10, 1, 9, 0, 5, 250000), _utc(2026, 10, 1, 9, 0, 5, 250000),
              _utc(2026, 10, 24, 8), _utc(2026, 10, 24, 9), False, "anna maria rossi", 1, "Mesotherapy, face",
              1, 4, "Room 2", "Dr Giulia Bianchi"),
    # cancelled, no room, no series, created in another zone, the day after the change to CET
    FeedEvent("b;2@clinic", 3, datetime(2026, 10, 2, 11, 30, tzinfo=timezone(timedelta(hours=2))),
              _utc(2026, 10, 20, 16, 45), _utc(2026, 10, 26, 8), _utc(2026, 10, 26, 8, 30), True, "Anna Rossi", 2,
              "Consultation", None, None, None, "Dr Giulia Bianchi"),
    # a summary folded inside neither "è" nor "à"
    FeedEvent("c-3@clinic", 1, _utc(2026, 10, 3, 9), _utc(2026, 10, 3, 9), _utc(2026, 10, 24, 8),
              _utc(2026, 10, 24, 9), False, "Élodie Ünal", 3,
              "Trattamento viso è già prenotato con polinucleotidi e acido ialuronico", 0, 4, "Room 2",
              "Dr Giulia Bianchi"),
]


def _after_timezone(feed: bytes) -> list[str]:
    """The feed's lines after its VTIMEZONE block."""
    text = feed.decode("utf-8")
    assert text.endswith("\r\n")
    return text[text.index("END:VTIMEZONE\r\n") + len("END:VTIMEZONE\r\n"):].split("\r\n")


def _event(uid: str, sequence: int, changed: str, created: str, start: str, end: str, summary: list[str],
           location: str, cancelled: bool = False) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", f"SEQUENCE:{sequence}", f"DTSTAMP:{changed}", f"LAST-MODIFIED:{changed}",
            f"CREATED:{created}", f"DTSTART;TZID=Europe/Rome:{start}", f"DTEND;TZID=Europe/Rome:{end}",
            "CLASS:PRIVATE", *summary, location, "STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED",
            "TRANSP:TRANSPARENT" if cancelled else "TRANSP:OPAQUE", "END:VEVENT"]


def test_staff_feed_text():
    feed = build_feed(FeedSpec("Villa Rosa · Room 2", for_patient=False), EVENTS, SETTINGS)
    assert feed.startswith("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Clinic Booking//Series Booking 1.0//EN", "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Villa Rosa · Room 2", "X-WR-TIMEZONE:Europe/Rome", "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H", "BEGIN:VTIMEZONE", "TZID:Europe/Rome", ""]).encode("utf-8"))
    assert _after_timezone(feed) == [
        *_event("a-1@clinic", 0, "20261001T090005Z", "20261001T090005Z", "20261024T100000", "20261024T110000",
                ["SUMMARY:A. M. · Mesotherapy\\, face 2/4"], "LOCATION:Room 2\\, Dr Giulia Bianchi"),
        *_event("b\\;2@clinic", 3, "20261020T164500Z", "20261002T093000Z", "20261026T090000", "20261026T093000",
                ["SUMMARY:A. R. · Consultation"], "LOCATION:Dr Giulia Bianchi", cancelled=True),
        *_event("c-3@clinic", 1, "20261003T090000Z", "20261003T090000Z", "20261024T100000", "20261024T110000",
                ["SUMMARY:É. Ü. · Trattamento viso è già prenotato con polinucleotidi e ",
                 " acido ialuronico 1/4"], "LOCATION:Room 2\\, Dr Giulia Bianchi"),
        "END:VCALENDAR", "",
    ]


def test_patient_feed_text_with_prep_steps():
    steps = {1: (FeedPrep(7, "Avoid sun, and alcohol", 48), FeedPrep(4, "No make-up", 12, version=2)), 2: (), 3: ()}
    feed = build_feed(FeedSpec("Villa Rosa · my appointments", for_patient=True), EVENTS, SETTINGS, steps)
    discreet = ["SUMMARY:Appointment at Villa Rosa"]
    location = "LOCATION:Villa Rosa\\, Via Roma 1\\, Milano"
    assert _after_timezone(feed) == [
        *_event("a-1@clinic", 0, "20261001T090005Z", "20261001T090005Z", "20261024T100000", "20261024T110000",
                discreet, location),
        "BEGIN:VEVENT", "UID:prep-7-a-1@clinic", "SEQUENCE:0", "DTSTAMP:20261001T090005Z",
        "DTSTART;VALUE=DATE:20261022", "DTEND;VALUE=DATE:20261023",
        "SUMMARY:Avoid sun\\, and alcohol (before your appointment Sat 24 Oct\\, 10:00", " )",
        "TRANSP:TRANSPARENT", "CLASS:PRIVATE", "END:VEVENT",
        "BEGIN:VEVENT", "UID:prep-4-a-1@clinic", "SEQUENCE:2", "DTSTAMP:20261001T090005Z",
        "DTSTART;VALUE=DATE:20261023", "DTEND;VALUE=DATE:20261024",
        "SUMMARY:No make-up (before your appointment Sat 24 Oct\\, 10:00)",
        "TRANSP:TRANSPARENT", "CLASS:PRIVATE", "END:VEVENT",
        *_event("b\\;2@clinic", 3, "20261020T164500Z", "20261002T093000Z", "20261026T090000", "20261026T093000",
                discreet, location, cancelled=True),
        *_event("c-3@clinic", 1, "20261003T090000Z", "20261003T090000Z", "20261024T100000", "20261024T110000",
                discreet, location),
        "END:VCALENDAR", "",
    ]


@pytest.mark.parametrize("for_patient", [False, True])
def test_an_event_reads_the_same_alone_or_among_others(for_patient):
    """Lines kept per distinct value are never another event's."""
    spec = FeedSpec("Feed", for_patient=for_patient)
    together = _after_timezone(build_feed(spec, EVENTS, SETTINGS))
    alone = [line for event in EVENTS for line in _after_timezone(build_feed(spec, [event], SETTINGS))[:-2]]
    assert together == [*alone, "END:VCALENDAR", ""]


def test_treatment_names_in_the_readers_language_replace_the_stored_ones():
    # services.feeds.feed_body passes each treatment's name in the feed reader's language.
    names = {1: "Mesoterapia viso", 2: "Consulto"}
    staff = _after_timezone(build_feed(FeedSpec("Feed", for_patient=False), EVENTS, SETTINGS, names=names))
    assert [line for line in staff if line.startswith("SUMMARY:")] == [
        "SUMMARY:A. M. · Mesoterapia viso 2/4", "SUMMARY:A. R. · Consulto",
        "SUMMARY:É. Ü. · Trattamento viso è già prenotato con polinucleotidi e "]  # id 3: no name given
    named = ClinicSettings(id=1, name="Villa Rosa", timezone="Europe/Rome", show_treatment_in_invites=True)
    patient = _after_timezone(build_feed(FeedSpec("Feed", for_patient=True), EVENTS[:1], named, names=names))
    assert "SUMMARY:Mesoterapia viso at Villa Rosa" in patient  # no app here: the words stay English
