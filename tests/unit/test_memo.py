"""The per-process answer memo: least recently used answers leave first."""

from booking.services.memo import Memo


def test_keeps_at_most_size_answers_dropping_the_least_recently_used():
    memo: Memo[str] = Memo(2)
    memo.put("a", "answer a")
    memo.put("b", "answer b")
    assert memo.get("a") == "answer a"  # now "b" is the least recently used
    memo.put("c", "answer c")
    assert memo.get("b") is None
    assert memo.get("a") == "answer a" and memo.get("c") == "answer c"


def test_a_new_answer_for_a_key_replaces_the_old_one_and_clear_forgets_all():
    memo: Memo[int] = Memo(4)
    memo.put(("key", 1), 1)
    memo.put(("key", 1), 2)
    assert memo.get(("key", 1)) == 2
    memo.clear()
    assert memo.get(("key", 1)) is None
