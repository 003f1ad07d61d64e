"""The feed writer's escaping and line folding (RFC 5545 §3.1, §3.3.11)."""

from __future__ import annotations

from booking.calendar.feeds import escape, fold, initials


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
