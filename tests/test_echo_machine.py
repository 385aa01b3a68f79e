"""The echo machine's strategies draw what its rules promise."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from echofuzz.engine.machine import TABLE_LIMIT, burst_members, member_orders


def test_the_member_table_holds_every_ordering_of_two_or_more_connections_once():
    assert member_orders(3) == (
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1),
        (0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0),
    )  # fmt: skip
    six = member_orders(6)
    assert (
        len(six)
        == len(set(six))
        == sum(len(list(itertools.permutations(range(6), size))) for size in range(2, 7))
    )
    assert six[0] == (0, 1)  # what shrinking aims at: the first two connections


@given(st.integers(2, TABLE_LIMIT + 3), st.data())
def test_a_burst_draws_two_or_more_distinct_open_connections(count, data):
    names = tuple(f"c{index}" for index in range(count))
    members = data.draw(burst_members(names))
    assert 2 <= len(members) <= count
    assert len(set(members)) == len(members)
    assert set(members) <= set(names)
