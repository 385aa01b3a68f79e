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

    verdict: str  # "pass", "fail" or "interrupted"
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
    #: Every distinct bug, the first one first; ``reason`` and ``reproduction`` above are its.
    bugs: list[Finding] = field(default_factory=list)
    #: Divergences seen once that never failed again on confirmation (exit 0, a warning).
    unconfirmed: list[Finding] = field(default_factory=list)
    #: Stalls that resolved within the confirmation window: slow, not wrong.
    latencies: list[str] = field(default_factory=list)
