"""``slot_taken`` says why when only the buffers (clean-up, preparation) overlap a neighbour,
and still says "already booked" when the appointments themselves overlap (issue 13, bug 5)."""

from __future__ import annotations

from datetime import timedelta

from booking.scheduling import check_slot_taken
from tests.unit.scheduling_factories import TZ, local, make_booked, make_treatment

START = local(2026, 3, 10, 10)  # Tue 10 Mar 10:00 in Rome
END = START + timedelta(minutes=30)


def test_own_clean_up_running_into_the_next_appointment_is_named():
    treatment = make_treatment(duration_minutes=30, buffer_after_minutes=10)
    following = make_booked(start=local(2026, 3, 10, 10, 30), room_id=2)
    (problem,) = check_slot_taken(treatment, START, END, 1, 1, [following], tz=TZ)
    assert problem.code == "slot_taken"
    assert problem.message == (
        "The practitioner's next appointment starts at 10:30; this treatment needs 10 minutes' clean-up "
        "after it, so this treatment cannot start at Tue 10 Mar 10:00; choose another time.")
    assert "already" not in problem.message


def test_the_previous_appointments_clean_up_is_named():
    treatment = make_treatment(duration_minutes=30)
    before = make_booked(start=local(2026, 3, 10, 9), buffer_after_minutes=15, practitioner_id=2)
    (problem,) = check_slot_taken(treatment, START, END, 1, 1, [before], tz=TZ)
    assert problem.message.startswith("The room's previous appointment ends at 10:00; it needs 15 minutes' "
                                      "clean-up after it")


def test_a_real_overlap_is_still_already_booked():
    treatment = make_treatment(duration_minutes=30, buffer_after_minutes=10)
    overlapping = make_booked(start=local(2026, 3, 10, 10, 15), room_id=2)
    (problem,) = check_slot_taken(treatment, START, END, 1, 1, [overlapping], tz=TZ)
    assert problem.message == "The practitioner is already booked at Tue 10 Mar 10:00; choose another time."
