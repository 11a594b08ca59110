"""compose.memo.Memo: the answers of its function, for a bounded number of recent keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.compose.memo import Memo


@given(st.lists(st.text(max_size=3), max_size=60), st.integers(min_value=1, max_value=8))
def test_a_memo_answers_as_its_function_and_stays_bounded(keys: list[str], size: int) -> None:
    made: list[str] = []

    def measure(text: str) -> int:
        made.append(text)
        return len(text) * 7

    memo = Memo(measure, size)
    assert memo.many(keys) == [len(key) * 7 for key in keys]
    assert [memo(key) for key in keys] == [len(key) * 7 for key in keys]
    assert len(memo.new) <= size and len(memo.old) <= size
    assert len(made) <= 2 * len(keys)


def test_a_key_used_in_every_generation_is_made_once() -> None:
    made: list[int] = []
    memo = Memo(lambda n: made.append(n) or n, size=4)
    for n in range(100):
        memo(0)  # the key kept in use
        memo(n + 1)  # a stream of new keys, retiring a generation every few calls
    assert made.count(0) == 1
