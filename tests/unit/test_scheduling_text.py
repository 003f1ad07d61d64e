"""booking.scheduling.text: a rule book message is English as a ``str`` and keeps what the
boundary needs to say it in another language (issue 16), with no framework imported."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, date, datetime

from booking.scheduling.checks import check_in_past
from booking.scheduling.conflict_checks import buffer_clash_message
from booking.scheduling.model import BookedAppointment, TreatmentSpec
from booking.scheduling.problems import days_label, hours_label, lead_label, session_label
from booking.scheduling.text import Day, Moment, N_, Np_, Text, join

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Tue 10 Mar, 10:00 in Rome


def test_a_text_is_its_english_and_keeps_its_msgid_and_params():
    text = N_("The clinic is closed at %(when)s; choose another time.", when=Moment(START, "Europe/Rome"))
    assert isinstance(text, str)
    assert text == "The clinic is closed at Tue 10 Mar 10:00; choose another time."
    assert text.msgid == "The clinic is closed at %(when)s; choose another time."
    assert text.params == {"when": Moment(START, "Europe/Rome")}
    assert "closed" in text and text.endswith("time.")


def test_plurals_choose_the_english_form_and_carry_the_count():
    assert hours_label(1) == "1 hour" and hours_label(48) == "48 hours"
    assert days_label(1) == "1 day" and days_label(7) == "7 days"
    assert lead_label(72) == "3 days" and lead_label(36) == "36 hours"
    label = days_label(7)
    assert (label.msgid, label.plural, label.n, label.params) == ("%(num)d day", "%(num)d days", 7, {"num": 7})
    assert Np_("%(num)d problem", "%(num)d problems", 2) == "2 problems"


def test_nested_texts_dates_and_lists_read_as_before():
    assert session_label(None) == "This session" and session_label(2) == "Session 3"
    assert Day(date(2026, 3, 10)).english() == "Tue 10 Mar"
    assert Day(date(2026, 6, 5), "date").english() == "05 Jun 2026"
    assert Moment(START, None, "clock").english() == "09:00 UTC"
    assert Moment(START, "Europe/Rome", "clock").english() == "10:00"
    listed = N_("%(num)d problems: %(problems)s", num=2, problems=join([N_("A."), N_("B.")]))
    assert listed == "2 problems: A.; B."
    outer = N_("%(why)s, %(n)d", why=N_("inner %(x)s", x="x"), n=3)
    assert outer == "inner x, 3" and outer.params["why"].msgid == "inner %(x)s"


def test_a_text_survives_pickling_and_copying_as_a_text():
    text = N_("Session %(number)d", number=2)
    for again in (pickle.loads(pickle.dumps(text)), copy.deepcopy(text)):
        assert isinstance(again, Text) and again == text and again.msgid == text.msgid


def test_a_percent_sign_without_params_is_left_alone():
    assert N_("100% sure") == "100% sure"


def test_rule_problems_are_texts_with_todays_english():
    [problem] = check_in_past(START, datetime(2026, 3, 11, tzinfo=UTC), tz="Europe/Rome")
    assert problem.message == "That time at Tue 10 Mar 10:00 has already passed; choose a time in the future."
    assert isinstance(problem.message, Text)
    assert problem.message.msgid == "That time at %(when)s has already passed; choose a time in the future."


def test_a_buffer_clash_reads_as_before():
    from datetime import timedelta

    treatment = TreatmentSpec(treatment_id=1, kind="treatment", body_area=None, duration_minutes=30, buffer_after_minutes=10)
    other = BookedAppointment(appointment_id=9, patient_id=2, practitioner_id=1, room_id=None, treatment_id=1,
                              body_area=None, start=START + timedelta(minutes=30), end=START + timedelta(minutes=60),
                              buffer_before_minutes=5, buffer_after_minutes=0, aftercare_hours=0, kind="treatment")
    message = buffer_clash_message("practitioner's", treatment, START, START + timedelta(minutes=30), other,
                                   "Europe/Rome")
    assert message == ("The practitioner's next appointment starts at 10:30; this treatment needs 10 minutes' "
                       "clean-up after it and that one needs 5 minutes' preparation before it, so this treatment "
                       "cannot start at Tue 10 Mar 10:00; choose another time.")
    one = buffer_clash_message("room's", TreatmentSpec(treatment_id=1, kind="treatment", body_area=None,
                                             duration_minutes=30, buffer_before_minutes=1),
                               START + timedelta(minutes=30), START + timedelta(minutes=60),
                               BookedAppointment(9, 2, 1, None, 1, None, START - timedelta(minutes=30), START,
                                                 0, 0, 0, "treatment"), None)
    assert one == ("The room's previous appointment ends at 09:00 UTC; this treatment needs 1 minute's "
                   "preparation before it, so this treatment cannot start at 09:30 UTC; choose another time.")
