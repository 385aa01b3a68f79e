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
compares the target's against the oracle's.

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

from dataclasses import dataclass, field
from typing import Literal

RemoteState = Literal["open", "eof", "reset"]

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


def settled_problem(name: str, ledger: Ledger, until_eof: bool) -> str | None:
    """Claims 2 and 3 once waiting is over: every byte back; EOF exactly when asked for."""
    problem = prefix_problem(name, ledger)
    if problem:
        return problem
    if not ledger.echoed_all():
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
