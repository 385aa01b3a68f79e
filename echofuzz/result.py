"""What a run found: the verdict and its evidence, as data (``outputs.report`` writes it).

It lives at the bottom of the package, beside the vocabulary, because both the
engine (which produces it) and the outputs (which show it) need it, and the
outputs must not import the engine's trio and Hypothesis just to read a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from echofuzz.vocabulary import Step


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
