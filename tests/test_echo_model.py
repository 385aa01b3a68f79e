"""The echo model's checks, judged on ledgers built by hand and by Hypothesis."""

from hypothesis import given
from hypothesis import strategies as st

from echofuzz.model import Ledger, first_difference, prefix_problem, settled_problem


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
