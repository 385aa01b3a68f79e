"""Steps survive the trip to JSON and back, and bad JSON is refused with one line."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from echofuzz.vocabulary import OPS, Payload, Step, steps_from_json

payloads = st.one_of(
    st.binary(max_size=64).map(Payload.literal),
    st.builds(
        Payload.generated,
        st.integers(0, 1 << 22),
        st.integers(0, 1 << 16),
        st.sampled_from(["", "c1"]),
    ),
)
names = st.from_regex(r"c[0-9]{1,3}", fullmatch=True)


@st.composite
def steps(draw):
    """Well-formed steps of every kind: the fields each operation needs, and no others."""
    op = draw(st.sampled_from(OPS))
    return Step(
        op,
        conn="" if op in ("burst", "finish") else draw(names),
        payload=draw(payloads) if op in ("send", "slow_start") else None,
        sends=tuple(draw(st.lists(st.tuples(names, payloads), min_size=1, max_size=3)))
        if op == "burst"
        else (),
        in_flight=draw(st.booleans()) if op in ("reset", "close") else False,
        count=draw(st.integers(2, 5000)) if op == "crowd" else 0,
    )


@given(st.lists(steps(), max_size=8))
def test_every_step_round_trips_through_json(original):
    assert steps_from_json([s.to_json() for s in original]) == original


@given(steps())
def test_every_step_describes_itself_in_one_line(step):
    text = step.describe()
    assert text
    assert "\n" not in text


@given(st.integers(0, 4096), st.integers(0, 99))
def test_generated_payloads_depend_on_the_connection_so_crosstalk_stays_visible(size, seed):
    assert Payload.generated(size, seed).salted("c1").materialize("c9") == (
        Payload.generated(size, seed).materialize("c1")
    )
    payload = Payload.generated(size, seed)
    assert payload.materialize("c1") == payload.materialize("c1")
    assert len(payload.materialize("c1")) == size
    if size >= 8:
        assert payload.materialize("c1") != payload.materialize("c2")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"op": "send"}, "unknown"),
        ([{"op": "dance"}], "unknown step operation"),
        ([{"op": "send", "conn": "c1", "payload": {"size": -1, "seed": 0}}], "size"),
        ([{"op": "send", "conn": 3}], "connection name"),
        ([{"op": "send", "conn": "c1"}], "needs payload"),
        ([{"op": "burst"}], "only it, has sends"),
        ([["connect"]], "a step is an object"),
        ([{"op": "crowd", "conn": "c1"}], "only it, has a count"),
        ([{"op": "crowd", "conn": "c1", "count": 10**9}], "a crowd is 2 to"),
        ([{"op": "send", "conn": "c1", "payload": {"size": 1 << 40, "seed": 0}}], "allowed"),
        ([{"op": "expect", "conn": "c1", "in_flight": True}], "nothing in flight"),
    ],
)
def test_malformed_steps_are_refused_with_a_readable_message(bad, message):
    with pytest.raises(ValueError, match=message if bad != {"op": "send"} else "list of steps"):
        steps_from_json(bad)
