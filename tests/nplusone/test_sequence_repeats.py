"""How many times a sequence of queries per row repeats: the loop's rows, counted
whether the sequence runs to the end of the request or other queries follow it."""

from __future__ import annotations

from perfdoctor.detectors._groups import SpanGroup
from perfdoctor.detectors._sequence import n_plus_one_sequences
from perfdoctor.model import Span


def groups_of(order: str) -> list[SpanGroup]:
    """One group per letter, a run of it at each position of ``order`` (1 ms apart)."""
    groups: dict[str, SpanGroup] = {}
    for at, letter in enumerate(order):
        group = groups.setdefault(letter, SpanGroup((None, letter)))
        group.spans.append(Span("db", float(at), 0.5))
    return list(groups.values())


def found(order: str) -> list[tuple[str, int]]:
    return [
        ("".join(str(g.key[1]) for g in sequence.groups), sequence.repeats)
        for sequence in n_plus_one_sequences(groups_of(order))
    ]


def test_a_sequence_to_the_end_of_the_request() -> None:
    assert found("ab" * 20) == [("ab", 20)]
    assert found("xyz" * 7) == [("xyz", 7)]


def test_a_sequence_with_other_queries_after_it() -> None:
    assert found("ab" * 6 + "cd" * 4) == [("ab", 6), ("cd", 4)]
    assert found("abc" * 5 + "ab") == []  # a and b ran 6 times, c 5: not one loop


def test_a_sequence_cut_short_is_no_sequence() -> None:
    assert found("ab" * 5 + "a") == []  # a ran 6 times, b 5


def sequences_of(runs: dict[str, list[float]]) -> list[tuple[str, int]]:
    """Groups named by letter, in the order given, with their runs' start times."""
    groups = []
    for letter, starts in runs.items():
        group = SpanGroup((None, letter))
        group.spans.extend(Span("db", start, 0.5) for start in starts)
        groups.append(group)
    return [
        ("".join(str(g.key[1]) for g in sequence.groups), sequence.repeats)
        for sequence in n_plus_one_sequences(groups)
    ]


def test_a_sequence_is_told_in_the_order_its_queries_ran() -> None:
    # Listed b first, but a runs first in every row.
    assert sequences_of({"b": [1.0, 3.0, 5.0], "a": [0.0, 2.0, 4.0]}) == [("ab", 3)]


def test_queries_of_a_row_that_start_together_keep_the_groups_order() -> None:
    assert sequences_of({"a": [0.0, 2.0, 4.0], "b": [0.0, 2.0, 4.0]}) == [("ab", 3)]
    assert sequences_of({"b": [0.0, 2.0, 4.0], "a": [0.0, 2.0, 4.0]}) == [("ba", 3)]


def test_runs_recorded_out_of_order_are_put_in_time_order() -> None:
    assert sequences_of({"a": [2.0, 0.0, 4.0], "b": [1.0, 3.0, 5.0]}) == [("ab", 3)]
    # Two loops one after the other are no sequence.
    assert sequences_of({"a": [0.0, 1.0, 2.0], "b": [3.0, 4.0, 5.0]}) == []
    # Turns that change order half way: no one pattern for every row.
    assert sequences_of({"a": [0.0, 2.0, 5.0, 7.0], "b": [1.0, 3.0, 4.0, 6.0]}) == []
