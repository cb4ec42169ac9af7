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
