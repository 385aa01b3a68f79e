"""The echo model's checks, judged on ledgers built by hand and by Hypothesis."""

from hypothesis import assume, given
from hypothesis import strategies as st

from echofuzz.model import (
    CROSSTALK_EVIDENCE,
    Ledger,
    crosstalk_problem,
    first_difference,
    prefix_problem,
    settled_problem,
    unasked_end_problem,
)
from echofuzz.wire import generated_bytes


def ledger(sent: bytes, received: bytes, remote: str = "open") -> Ledger:
    return Ledger(bytearray(sent), bytearray(received), remote)  # type: ignore[arg-type]


@given(st.binary(max_size=300), st.data())
def test_any_prefix_of_what_was_sent_satisfies_the_prefix_claim(sent, data):
    cut = data.draw(st.integers(0, len(sent)))
    assert prefix_problem("c1", ledger(sent, sent[:cut])) is None


@given(st.binary(min_size=1, max_size=300), st.data())
def test_changing_any_received_byte_breaks_the_prefix_claim_at_that_byte(sent, data):
    at = data.draw(st.integers(0, len(sent) - 1))
    flip = data.draw(st.integers(1, 255))
    received = bytearray(sent)
    received[at] ^= flip
    problem = prefix_problem("c1", ledger(sent, bytes(received)))
    assert problem is not None
    assert f"byte {at} " in problem


@given(st.lists(st.binary(max_size=50), max_size=10))
def test_the_prefix_check_is_the_same_whether_incremental_or_at_once(chunks):
    sent = b"".join(chunks)
    incremental = ledger(sent, b"")
    for chunk in chunks:
        incremental.received += chunk
        assert prefix_problem("c1", incremental) is None
    assert incremental.verified == len(sent)


def test_receiving_more_than_was_sent_is_reported():
    assert "3 bytes back but only 2 were sent" in prefix_problem("c1", ledger(b"ab", b"abc"))


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_first_difference_agrees_with_a_plain_scan(a, b):
    plain = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if plain is None and len(b) > len(a):
        plain = len(a)
    assert first_difference(a, b) == plain


def test_a_settled_echo_needs_every_byte_back():
    assert settled_problem("c1", ledger(b"abc", b"abc"), until_eof=False) is None
    assert "2 of 3" in settled_problem("c1", ledger(b"abc", b"ab"), until_eof=False)


def test_a_half_close_must_end_in_eof_not_reset_nor_silence():
    assert settled_problem("c1", ledger(b"ab", b"ab", "eof"), until_eof=True) is None
    assert "reset" in settled_problem("c1", ledger(b"ab", b"ab", "reset"), until_eof=True)
    assert "did not close" in settled_problem("c1", ledger(b"ab", b"ab"), until_eof=True)


def test_a_server_may_not_close_a_connection_the_client_keeps_open():
    assert "closed" in settled_problem("c1", ledger(b"ab", b"ab", "eof"), until_eof=False)


# --- claim 4: crosstalk and unasked endings -------------------------------------------


@given(st.integers(0, 2**32), st.integers(CROSSTALK_EVIDENCE, 2000), st.data())
def test_bytes_another_connection_sent_are_reported_as_crosstalk_naming_it(seed, size, data):
    theirs = generated_bytes(size, seed, "c2")
    mine = generated_bytes(size, seed, "c1")
    good = data.draw(st.integers(0, size))
    start = data.draw(st.integers(0, size - CROSSTALK_EVIDENCE))
    length = data.draw(st.integers(CROSSTALK_EVIDENCE, 64))
    crossed = theirs[start : start + length]
    # Rarely, their bytes happen to be ours as well, or to continue our prefix:
    assume(crossed not in mine and crossed[:1] != mine[good : good + 1])
    c1 = ledger(mine, mine[:good] + crossed)
    others = {"c2": ledger(theirs, b""), "c3": ledger(b"", b"")}
    problem = crosstalk_problem("c1", c1, others)
    assert problem is not None
    assert problem.startswith(f"c1: bytes {good}-")
    assert "what c2 sent" in problem


@given(st.binary(max_size=200), st.data())
def test_a_prefix_of_what_was_sent_is_never_crosstalk(sent, data):
    cut = data.draw(st.integers(0, len(sent)))
    others = {"c2": ledger(data.draw(st.binary(max_size=200)), b"")}
    assert crosstalk_problem("c1", ledger(sent, sent[:cut]), others) is None


def test_a_connections_own_chunks_out_of_order_are_not_crosstalk_even_if_another_sent_them_too():
    mine = generated_bytes(4096, 1, "c1")
    swapped = mine[2048:] + mine[:2048]
    others = {"c2": ledger(mine[2048:3000], b"")}  # explains fewer wrong bytes than c1 does
    assert crosstalk_problem("c1", ledger(mine, swapped), others) is None


def test_crosstalk_needs_more_than_a_chance_byte_or_two():
    chance = ledger(b"abcdefgh", b"abcXYefgh")
    assert crosstalk_problem("c1", chance, {"c2": ledger(b"--XY--", b"")}) is None
    crossed = ledger(b"abcdefgh", b"abcWXYZ")
    problem = crosstalk_problem("c1", crossed, {"c2": ledger(b"--WXYZ--", b"")})
    assert (
        problem == "c1: bytes 3-6 that came back are what c2 sent: the server crossed connections"
    )


def test_crosstalk_is_judged_without_marking_anything_verified():
    c1 = ledger(b"abcd", b"abcd")
    crosstalk_problem("c1", c1, {})
    assert c1.verified == 0


@given(st.binary(max_size=50), st.binary(max_size=50), st.sampled_from(["open", "eof", "reset"]))
def test_only_an_open_connection_is_one_the_server_did_not_end_unasked(sent, received, remote):
    problem = unasked_end_problem("c1", ledger(sent, received, remote))
    assert (problem is None) == (remote == "open")
    if problem is not None:
        assert "although the client did not" in problem
        assert ("had come back" in problem) == (len(received) < len(sent))
