"""The echo model: what a client of a TCP echo server may rely on.

Source, RFC 862 (Echo Protocol), "TCP Based Echo Service":

    "One echo service is defined as a connection based application on TCP.
    A server listens for TCP connections on TCP port 7. Once a connection is
    established any data received is sent back. This continues until the
    calling user terminates the connection."

The RFC says no more. Real clients rely on more, and so does this model; where
it goes beyond the RFC it says so:

1. Prefix (RFC): per connection, the bytes received are at every moment a prefix
   of the bytes sent, however TCP splits or merges them.
2. Completeness (RFC, "any data received is sent back"): eventually all of them;
   "eventually" is made concrete by a deadline, so a stall is a finding.
3. Half-close (beyond the RFC, which only says the *calling user* terminates):
   after the client's ``shutdown(SHUT_WR)`` the server echoes everything still
   owed and then closes cleanly -- EOF, never a reset.
4. Isolation (beyond the RFC, implied by "a connection"): no bytes cross between
   connections; one client's reset, stall or death never affects another, and
   the server keeps accepting.

This module is I/O-free: a ``Ledger`` records one connection as a client sees
it, and the checks below turn ledgers into verdicts (``None`` when the model
holds, else one readable line). The client driver fills ledgers; the fuzzer
compares the target's against the oracle's. ``crosstalk_problem`` and
``unasked_end_problem`` judge claim 4, where one connection is judged beside
the others.

>>> ledger = Ledger()
>>> ledger.sent += b"hello"
>>> ledger.received += b"hel"
>>> prefix_problem("c1", ledger) is None
True
>>> settled_problem("c1", ledger, until_eof=False)
'c1: got 3 of 5 bytes back; the connection is still open'
>>> ledger.received += b"LO"
>>> prefix_problem("c1", ledger)
"c1: byte 3 came back as b'L' but was sent as b'l'"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

RemoteState = Literal["open", "eof", "reset"]

#: Fewest wrong bytes that, found in another connection's stream, count as crosstalk
#: (unless fewer came back): one or two bytes turn up in any large payload by chance.
CROSSTALK_EVIDENCE = 4

_ENDING: dict[str, str] = {
    "open": "the connection is still open",
    "eof": "the server closed the connection (EOF)",
    "reset": "the server reset the connection",
}


@dataclass
class Ledger:
    """One connection as its client sees it: bytes out, bytes back, how it ended."""

    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)
    remote: RemoteState = "open"
    #: Bytes of ``received`` already checked against ``sent`` (checks are incremental).
    verified: int = 0

    def echoed_all(self) -> bool:
        return len(self.received) >= len(self.sent)


def first_difference(sent: bytes | bytearray, received: bytes | bytearray) -> int | None:
    """Index of the first byte of ``received`` that is not the byte sent there."""
    limit = min(len(sent), len(received))
    if sent[:limit] == received[:limit]:
        return None if len(received) <= len(sent) else len(sent)
    lo, hi = 0, limit  # binary search: payloads can be megabytes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sent[lo:mid] == received[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def prefix_problem(name: str, ledger: Ledger) -> str | None:
    """Claim 1: what came back is a prefix of what went out (checked incrementally)."""
    start = ledger.verified
    end = len(ledger.received)
    if ledger.received[start:end] == ledger.sent[start:end] and end <= len(ledger.sent):
        ledger.verified = end
        return None
    at = first_difference(ledger.sent, ledger.received)
    assert at is not None
    if at >= len(ledger.sent):
        return f"{name}: got {end} bytes back but only {len(ledger.sent)} were sent"
    got = bytes(ledger.received[at : at + 1])
    want = bytes(ledger.sent[at : at + 1])
    return f"{name}: byte {at} came back as {got!r} but was sent as {want!r}"


def is_settled(ledger: Ledger, until_eof: bool) -> bool:
    """Nothing more to wait for: all echoed (and EOF, if asked), or the server ended it."""
    if ledger.remote != "open":
        return True
    return not until_eof and ledger.echoed_all()


#: What a server does when its client half-closes: ``echo`` (the model's claim 3: the rest of
#: the echo, then FIN) or ``close`` (declared by the user: it may close at once, with echo owed).
HalfClose = Literal["echo", "close"]


def settled_problem(
    name: str, ledger: Ledger, until_eof: bool, half_close: HalfClose = "echo"
) -> str | None:
    """Claims 2 and 3 once waiting is over: every byte back; EOF exactly when asked for.

    With ``half_close="close"`` (a server declared to close on the client's
    half-close, as Twisted's ``wire.Echo`` does) the echo after a half-close
    may stop short, but what came back must still be a prefix, and the server
    must have ended the connection.

    >>> dropped = Ledger(bytearray(b"hello"), bytearray(b"he"), "eof")
    >>> print(settled_problem("c1", dropped, until_eof=True))  # doctest: +NORMALIZE_WHITESPACE
    c1: the server closed the connection right after the client's half-close, dropping 3
    bytes it owed; if that is by design, rerun with --half-close close
    >>> settled_problem("c1", dropped, until_eof=True, half_close="close") is None
    True
    """
    problem = prefix_problem(name, ledger)
    if problem:
        return problem
    if until_eof and half_close == "close":
        if ledger.remote == "open":
            return f"{name}: after the client's half-close the server did not close the connection"
        return None
    if not ledger.echoed_all():
        owed = len(ledger.sent) - len(ledger.received)
        if until_eof and ledger.remote != "open":
            how = "closed" if ledger.remote == "eof" else "reset"
            return (
                f"{name}: the server {how} the connection right after the client's half-close, "
                f"dropping {owed} bytes it owed; "
                "if that is by design, rerun with --half-close close"
            )
        return (
            f"{name}: got {len(ledger.received)} of {len(ledger.sent)} bytes back; "
            f"{_ENDING[ledger.remote]}"
        )
    if until_eof and ledger.remote != "eof":
        if ledger.remote == "reset":
            return f"{name}: after the client's half-close the server reset the connection"
        return f"{name}: after the client's half-close the server did not close the connection"
    if not until_eof and ledger.remote != "open":
        return f"{name}: {_ENDING[ledger.remote]} although the client did not close"
    return None


def _longest_run_found(run: bytes | bytearray, stream: bytes | bytearray) -> int:
    """How many leading bytes of ``run`` occur, together, somewhere in ``stream``.

    If the first ``n`` bytes occur, so do the first ``n - 1``: the answer is
    found by bisection, a few dozen substring searches even for megabytes.
    """
    lo, hi = 0, min(len(run), len(stream))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if run[:mid] in stream:
            lo = mid
        else:
            hi = mid - 1
    return lo


def crosstalk_problem(name: str, ledger: Ledger, others: Mapping[str, Ledger]) -> str | None:
    """Claim 4: the bytes that broke claim 1 on ``name`` are bytes another connection sent.

    A broken prefix says *that* the echo is wrong; this says *why*, when the
    reason is the worst one a multi-client server has: it mixed its
    connections up. The wrong bytes (those from the first difference on) are
    looked for in every other connection's outgoing stream, and in the
    connection's own: a server that reorders or repeats a connection's own
    chunks also breaks the prefix, with bytes that connection did send, and
    that is not crosstalk. The other connection must explain a longer run than
    the connection itself does, and at least ``CROSSTALK_EVIDENCE`` bytes (or
    all that came back past the difference, if fewer).

    ``None`` when the prefix holds or when no other connection explains the
    wrong bytes better; ``prefix_problem`` reports those. Reads ``ledger``
    without marking anything verified, so it can be asked before or after
    ``prefix_problem``. ``others`` may include ``name`` itself; it is skipped.

    >>> c1, c2 = Ledger(bytearray(b"hello")), Ledger(bytearray(b"world"))
    >>> c1.received += b"world"
    >>> crosstalk_problem("c1", c1, {"c1": c1, "c2": c2})
    'c1: bytes 0-4 that came back are what c2 sent: the server crossed connections'

    A connection that sent nothing cannot receive anything either:

    >>> quiet = Ledger(received=bytearray(b"hello"))
    >>> crosstalk_problem("c3", quiet, {"c1": c1, "c2": c2})
    'c3: bytes 0-4 that came back are what c1 sent: the server crossed connections'

    Its own bytes out of order, or bytes nobody sent, are not crosstalk:

    >>> own = Ledger(bytearray(b"abcdefgh"), bytearray(b"efghabcd"))
    >>> crosstalk_problem("c1", own, {"c2": Ledger(bytearray(b"efgh"))}) is None
    True
    >>> garbled = Ledger(bytearray(b"hello"), bytearray(b"hexxo"))
    >>> crosstalk_problem("c1", garbled, {"c2": c2}) is None
    True
    """
    at = first_difference(ledger.sent, ledger.received)
    if at is None:
        return None
    wrong = ledger.received[at:]
    needed = min(CROSSTALK_EVIDENCE, len(wrong))
    best_name, best = "", max(needed - 1, _longest_run_found(wrong, ledger.sent))
    for other_name, other in others.items():
        if other_name == name:
            continue
        found = _longest_run_found(wrong, other.sent)
        if found > best:
            best_name, best = other_name, found
    if not best_name:
        return None
    return (
        f"{name}: bytes {at}-{at + best - 1} that came back are what {best_name} sent: "
        "the server crossed connections"
    )


def unasked_end_problem(name: str, ledger: Ledger) -> str | None:
    """Claim 4 (and RFC 862's "until the calling user terminates"): only the client ends.

    For a connection whose client has neither half-closed nor closed: the
    server ending it, by EOF or by reset, is a problem however much was
    echoed, because an echo service serves until its user is done. It is
    claim 4's symptom when the cause lies elsewhere -- another client's reset
    crashed the server and took every connection with it. After the client's
    half-close, EOF is due and ``settled_problem`` judges the ending instead.

    >>> unasked_end_problem("c1", Ledger(bytearray(b"ab"), bytearray(b"ab"))) is None
    True
    >>> unasked_end_problem("c1", Ledger(bytearray(b"ab"), bytearray(b"ab"), "eof"))
    'c1: the server closed the connection although the client did not'
    >>> unasked_end_problem("c2", Ledger(bytearray(b"abc"), bytearray(b"a"), "reset"))
    'c2: the server reset the connection although the client did not; 1 of 3 bytes had come back'
    """
    if ledger.remote == "open":
        return None
    how = "reset" if ledger.remote == "reset" else "closed"
    problem = f"{name}: the server {how} the connection although the client did not"
    if not ledger.echoed_all():
        problem += f"; {len(ledger.received)} of {len(ledger.sent)} bytes had come back"
    return problem


#: Bytes of a wrong run that must match later sent bytes to call it reordering.
ORDER_EVIDENCE = 8


def order_problem(name: str, ledger: Ledger) -> str | None:
    """Claim 1, narrowed: the wrong bytes are the connection's own, sent later.

    Reordering, when the bytes passed over (a chunk's worth at least) come
    back afterwards; a drop, when they do not, or are only a byte or two.

    A server that sends its chunks back in the wrong order breaks the prefix
    with bytes the client did send, only further on. Telling that apart from
    corruption names the bug: an outbox kept as a stack, say, rather than a
    queue. Bytes found only earlier in the stream are a repetition, not this.

    >>> reordered = Ledger(bytearray(b"first chunk|second chunk|"))
    >>> reordered.received += b"second chunk|first chunk|"
    >>> order_problem("c1", reordered)
    'c1: the bytes from byte 0 on came back out of order: they were sent from byte 12 on'
    >>> mangled = Ledger(bytearray(b"first chunk|"), bytearray(b"FIRST chunk|"))
    >>> order_problem("c1", mangled) is None
    True
    >>> dropped = Ledger(bytearray(b"abc-defghijklmnop"), bytearray(b"abcdefghijklmnop"))
    >>> order_problem("c1", dropped)
    'c1: bytes 3-3 never came back: the echo goes on from byte 4'

    """
    at = first_difference(ledger.sent, ledger.received)
    if at is None or at >= len(ledger.sent):
        return None
    run = bytes(ledger.received[at : at + ORDER_EVIDENCE])
    if len(run) < ORDER_EVIDENCE:
        return None
    later = ledger.sent.find(run, at + 1)
    if later == -1:
        return None
    skipped = bytes(ledger.sent[at : min(later, at + ORDER_EVIDENCE)])
    if later - at < ORDER_EVIDENCE or skipped not in ledger.received[at + 1 :]:
        # The bytes passed over have not come back at all: dropped, not reordered.
        return f"{name}: bytes {at}-{later - 1} never came back: the echo goes on from byte {later}"
    return (
        f"{name}: the bytes from byte {at} on came back out of order: "
        f"they were sent from byte {later} on"
    )
