"""Write use cases run again when PostgreSQL picks them as a deadlock victim.

Racing inserts that clash on the exclusion constraints can deadlock (each waits for the other's
transaction); ``tests/integration/test_concurrency.py`` races real processes, and this file
checks the retry rule itself.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from booking.database import DEADLOCK_DETECTED, retry_deadlocks


class _DriverError(Exception):
    """What psycopg raises, with the SQLSTATE the retry looks at."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def failing(times: int, sqlstate: str = DEADLOCK_DETECTED):
    """A use case that fails ``times`` times with ``sqlstate``, then answers "booked"."""
    calls = []

    @retry_deadlocks
    def use_case(value: str) -> str:
        calls.append(value)
        if len(calls) <= times:
            raise OperationalError("INSERT INTO appointment ...", {}, _DriverError(sqlstate))
        return f"booked {value}"

    return use_case, calls


def test_a_deadlock_victim_runs_again_and_books(app):
    use_case, calls = failing(2)
    assert use_case("slot") == "booked slot"
    assert calls == ["slot", "slot", "slot"]


def test_it_gives_up_after_five_attempts(app):
    use_case, calls = failing(5)
    with pytest.raises(OperationalError):
        use_case("slot")
    assert len(calls) == 5


def test_other_database_errors_are_not_retried(app):
    use_case, calls = failing(1, sqlstate="57014")  # query cancelled
    with pytest.raises(OperationalError):
        use_case("slot")
    assert calls == ["slot"]
