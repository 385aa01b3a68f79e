"""What a run found: the verdict and its evidence, as data (``outputs.report`` writes it).

It lives at the bottom of the package, beside the vocabulary, because both the
engine (which produces it) and the outputs (which show it) need it, and the
outputs must not import the engine's trio and Hypothesis just to read a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from echofuzz.vocabulary import Step

#: The echo claims a finding can break, in the order a conformance report lists them.
CLAIMS: dict[str, str] = {
    "intact": "bytes intact: every byte comes back as it was sent",
    "order": "order: the bytes come back in the order they were sent",
    "complete": "completeness: every byte comes back",
    "half_close": "half-close: after the client's half-close, the rest of the echo, then FIN",
    "isolation": "isolation: no bytes cross connections, and one client never ends another's",
    "accepting": "keeps accepting: the server stays up and serves new connections",
    "flow_control": "flow control: a client that stops reading holds up only itself",
    "no_stall": "no stall: what is owed keeps coming within the deadline",
}


#: What the oracle did where a finding's server did otherwise, by the claim broken. The
#: oracle obeys the model, and the executor checks that it did at every step.
ORACLE_DID: dict[str, str] = {
    "intact": "echoed every byte unchanged",
    "order": "echoed every byte in the order it was sent",
    "complete": "echoed every byte",
    "half_close": "echoed the rest, then closed with FIN",
    "isolation": "kept each connection's bytes to it, and every connection open until its client "
    "ended it",
    "accepting": "kept running and served a new connection",
    "flow_control": "stopped reading from the client that stopped reading, and served the others",
    "no_stall": "answered within the deadline",
}


@dataclass
class Finding:
    """One distinct bug: the claim it breaks, why, and its own minimal reproduction."""

    reason: str
    claim: str
    reproduction: list[Step]
    #: The reproduction failed again, every time it was confirmed.
    reproduced: bool
    #: It shows only after earlier test cases on the same server process.
    needs_history: bool
    first_seen_s: float
    #: The test case (1-based) it was first met in.
    first_example: int | None = None
    #: Test cases that met it.
    hits: int = 1
    #: What makes two failures the same bug (``engine.shrink.signature``).
    signature: str = ""
    #: What the server did, and what the oracle did, at the step that showed it.
    server_did: str = ""
    oracle_did: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Failure:
    """The first failure a campaign met, with what it takes to explain it later."""

    elapsed_s: float
    reason: str
    #: The test case number (1-based) it was met in.
    example: int
    #: The failing test case's steps, up to the one that showed it (filled in at its end).
    steps: list[Step] = field(default_factory=list)
    #: The test cases the same server process had run before it.
    history: list[list[Step]] = field(default_factory=list)


@dataclass
class FuzzResult:
    """What a campaign (or a replay) found."""

    #: "pass", "fail", "lost" (a server echofuzz cannot restart went away) or "interrupted".
    verdict: str
    target: str
    seed: int | None
    examples: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    first_failure_s: float | None = None
    first_failure_example: int | None = None
    reason: str | None = None
    reproduction: list[Step] | None = None
    history_dependent: bool = False
    reproduced: bool | None = None
    restarts: int = 0
    notes: list[str] = field(default_factory=list)
    #: Why the run ended early: the server stopped accepting and cannot be restarted.
    lost: str | None = None
    #: Every distinct bug, the first one first; ``reason`` and ``reproduction`` above are its.
    bugs: list[Finding] = field(default_factory=list)
    #: Divergences seen once that never failed again on confirmation (exit 0, a warning).
    unconfirmed: list[Finding] = field(default_factory=list)
    #: Stalls that resolved within the confirmation window: slow, not wrong (the first ones).
    latencies: list[str] = field(default_factory=list)
    #: How many there were in all (``latencies`` keeps only the first).
    latency_count: int = 0


#: Exceptions a server dies of, and the claim its death breaks: the client behaviour
#: that killed it (a reset, a client that stops reading) names the claim.
CRASH_CLAIMS = (
    ("BlockingIOError", "flow_control"),
    ("Resource temporarily unavailable", "flow_control"),
    ("EAGAIN", "flow_control"),
    ("ConnectionResetError", "isolation"),
    ("BrokenPipeError", "isolation"),
    ("ECONNRESET", "isolation"),
    ("EPIPE", "isolation"),
    ("Errno 107", "isolation"),
    ("Connection reset", "isolation"),
    ("Broken pipe", "isolation"),
)


def claim_of(reason: str) -> str:
    """The claim a problem's text says was broken (a key of ``CLAIMS``).

    >>> claim_of("c1: byte 3 came back as b'L' but was sent as b'l'")
    'intact'
    >>> claim_of("c2: got 10 of 20 bytes back; the connection is still open")
    'no_stall'
    >>> claim_of("the server exited with status 1: BlockingIOError: [Errno 11] ...")
    'flow_control'
    """
    if reason.startswith("the server exited") or reason.startswith("the server was killed"):
        for needle, claim in CRASH_CLAIMS:
            if needle in reason:
                return claim
        return "accepting"
    rules = (
        ("came back out of order", "order"),
        ("never came back: the echo goes on", "intact"),
        ("crossed connections", "isolation"),
        ("came back on", "isolation"),
        ("after the client's half-close", "half_close"),
        ("although the client did not", "isolation"),
        ("sending failed", "isolation"),
        ("a new connection failed", "accepting"),
        ("connect failed", "accepting"),
        ("connect did not complete", "accepting"),
        ("stopped accepting", "accepting"),
        ("the connection is still open", "no_stall"),
        ("did not finish within", "no_stall"),
        ("bytes back;", "complete"),
        ("came back as", "intact"),
        ("were sent", "intact"),
        ("differs from the oracle", "intact"),
    )
    for needle, claim in rules:
        if needle in reason:
            return claim
    return "intact"


#: Words of a problem that say a wait ran out: what the patience is there to confirm.
STALL_WORDS = ("still open", "did not close", "did not complete within", "did not finish within")


def is_stall(reason: str) -> bool:
    """Whether a problem is a wait that ran out (as opposed to something wrong arriving)."""
    return any(words in reason for words in STALL_WORDS)


#: Words of a problem that say a connection ended or could not be made or used.
ENDING_WORDS = ("closed", "reset", "refused", "failed", "EOF", "exited", "broken")


def may_be_an_exit(reason: str) -> bool:
    """Whether a problem could be what a dying server looks like from its connections.

    An exiting process ends every connection it has and refuses new ones; bytes
    that come back wrong, or a connection that stays open, are a live server's
    doing. Only the first kind is worth waiting for the exit to show.
    """
    return any(words in reason for words in ENDING_WORDS)
