"""The Hypothesis state machine that generates client behaviour against an echo server.

Rules generate ``Step`` values; at teardown the campaign runs the whole test
case against the target and the oracle in one hop. The machine keeps only the
client's bookkeeping -- which connections are open, which are slow readers -- so that
preconditions (never ``assume``) keep every generated step meaningful: no send
on a closed connection, no burst without two connections, no more connections
than the target is declared to handle.

Every divergence is raised from ``teardown`` alone, as ``EchoDivergence``
carrying the steps up to the one that showed it, so that Hypothesis sees a
single bug and shrinks towards it (see ``_record`` for why not earlier).
"""

from __future__ import annotations

import functools
import itertools
from typing import Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from echofuzz.options import DEFAULT_MAX_CONNECTIONS, FuzzOptions
from echofuzz.vocabulary import Payload, Step


class CaseRunner(Protocol):
    """What the machine needs of its campaign: the options, and the test case's life cycle."""

    options: FuzzOptions

    def begin_case(self) -> None: ...

    def execute_case(self, steps: list[Step]) -> tuple[int, list[str]]: ...

    def is_known(self, problem: str) -> bool: ...

    def end_case(self, steps: list[Step], failed: bool) -> None: ...


#: Every byte value, in order: the payload that finds byte-specific corruption at once.
EVERY_BYTE = bytes(range(256))


class EchoDivergence(Exception):
    """The server under test did what the oracle (and the echo model) did not."""

    def __init__(self, reason: str, steps: list[Step]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.steps = steps


def sizes(low_exponent: int, high: int) -> st.SearchStrategy[int]:
    """Sizes spread evenly on a log scale from 2**low_exponent to ``high``; shrinking to small."""
    top = max(low_exponent, high.bit_length() - 1)

    def size(exponent: int, fraction: int) -> int:
        return min(high, ((1024 + fraction) << exponent) >> 10)

    return st.builds(size, st.integers(low_exponent, top), st.integers(0, 1023))


@functools.lru_cache(maxsize=16)
def payloads(max_size: int) -> st.SearchStrategy[Payload]:
    """Short literal payloads, every byte value at once, and big generated ones.

    Cached: a strategy is immutable, and building one per draw (then validating
    it and computing its properties again) cost more than the draw itself.
    """
    literal = st.binary(min_size=1, max_size=48).map(Payload.literal)
    every = st.just(Payload.literal(EVERY_BYTE))
    if max_size <= 256:
        return st.one_of(literal, every)
    generated = st.builds(Payload.generated, sizes(8, max_size), st.integers(0, 255))
    return st.one_of(literal, every, generated)


#: One test case in this many may open a crowd.
CROWD_ONE_IN = 10
#: Up to this many open connections, burst members are drawn from a precomputed table.
TABLE_LIMIT = 6


@functools.lru_cache(maxsize=16)
def member_orders(count: int) -> tuple[tuple[int, ...], ...]:
    """Every ordered choice of two or more distinct indices below ``count``, shortest first."""
    return tuple(
        chosen
        for size in range(2, count + 1)
        for chosen in itertools.permutations(range(count), size)
    )


@functools.lru_cache(maxsize=256)
def burst_members(names: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Two or more distinct connections out of ``names``, in any order; cached like ``payloads``.

    Up to ``TABLE_LIMIT`` names this is one choice from a table of every
    ordering (1,950 of them for six): the same choices as a unique list, drawn
    far more cheaply (the machine's own work per step fell from about 68 to
    30 µs), and shrinking towards the first pair.
    """
    if len(names) > TABLE_LIMIT:
        return st.lists(st.sampled_from(names), min_size=2, max_size=len(names), unique=True)
    return st.sampled_from(member_orders(len(names))).map(
        lambda chosen: [names[index] for index in chosen]
    )


class EchoMachine(RuleBasedStateMachine):
    """Client behaviour against one echo server; bound to a campaign by ``bind``."""

    campaign: CaseRunner
    PICK = st.integers(0, 63)

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.slow: list[str] = []
        self.steps: list[Step] = []
        self.problem: str | None = None
        self.known = False  # in FuzzOptions.ignore: end the case, do not fail it
        self.executed = 0
        self._serial = 0
        self.campaign.begin_case()

    @classmethod
    def bind(cls, campaign: CaseRunner) -> type[EchoMachine]:
        """A machine class whose instances report to ``campaign``."""
        return type("EchoMachine", (cls,), {"campaign": campaign})

    # -- bookkeeping -----------------------------------------------------------

    def _record(self, step: Step) -> None:
        """Add ``step`` to the test case; the campaign executes the case at teardown.

        Nothing is executed while the case is being generated: no draw depends on
        an outcome, so executing afterwards in one hop changes only the timing:
        the steps run back to back, as replays of the case always ran them.
        The divergence is raised at teardown, once: when a problem becomes
        visible depends on timing (a crash is seen one step later or earlier),
        and Hypothesis requires every replay to draw the same data.
        """
        self.steps.append(step)

    def _next_conn_name(self) -> str:
        self._serial += 1
        return f"c{self._serial}"

    def _enabled(self, op: str) -> bool:
        return op in self.campaign.options.ops

    def _room(self) -> bool:
        return len(self.open) + len(self.slow) < self.campaign.options.max_connections

    # -- rules -------------------------------------------------------------------

    @precondition(lambda self: self._enabled("connect") and self._room())
    @rule()
    def connect(self) -> None:
        name = self._next_conn_name()
        self._record(Step("connect", conn=name))
        self.open.append(name)

    @precondition(lambda self: self._enabled("send") and self.open)
    @rule(pick=PICK, data=st.data())
    def send(self, pick: int, data: st.DataObject) -> None:
        payload = data.draw(payloads(self.campaign.options.max_payload), label="payload")
        name = self.open[pick % len(self.open)]
        self._record(Step("send", conn=name, payload=payload.salted(name)))

    @precondition(lambda self: self._enabled("expect") and self.open)
    @rule(pick=PICK)
    def expect(self, pick: int) -> None:
        self._record(Step("expect", conn=self.open[pick % len(self.open)]))

    @precondition(lambda self: self._enabled("half_close") and self.open)
    @rule(pick=PICK)
    def half_close(self, pick: int) -> None:
        name = self.open.pop(pick % len(self.open))
        self._record(Step("half_close", conn=name))

    @precondition(lambda self: self._enabled("close") and (self.open or self.slow))
    @rule(pick=PICK)
    def close(self, pick: int) -> None:
        both = self.open + self.slow
        name = both[pick % len(both)]
        slow = name in self.slow
        (self.slow if slow else self.open).remove(name)
        self._record(Step("close", conn=name, in_flight=slow))

    @precondition(lambda self: self._enabled("reset") and (self.open or self.slow))
    @rule(pick=PICK)
    def reset(self, pick: int) -> None:
        both = self.open + self.slow
        name = both[pick % len(both)]
        slow = name in self.slow
        (self.slow if slow else self.open).remove(name)
        self._record(Step("reset", conn=name, in_flight=slow))

    @precondition(lambda self: self._enabled("connect_reset") and self._room())
    @rule()
    def connect_reset(self) -> None:
        self._record(Step("connect_reset", conn=self._next_conn_name()))

    @precondition(lambda self: self._enabled("burst") and len(self.open) >= 2)
    @rule(data=st.data())
    def burst(self, data: st.DataObject) -> None:
        names = data.draw(burst_members(tuple(self.open)), label="connections")
        each = payloads(self.campaign.options.max_payload)
        sends = tuple(
            (name, data.draw(each, label=f"payload for {name}").salted(name)) for name in names
        )
        self._record(Step("burst", sends=sends))

    @precondition(
        lambda self: (
            self._enabled("slow_start")
            and self._room()
            and len(self.slow) < 2
            and self.campaign.options.max_payload >= 65536
        )
    )
    @rule(size=st.integers(0, 1023), exponent=st.integers(0, 6), seed=st.integers(0, 255))
    def slow_start(self, size: int, exponent: int, seed: int) -> None:
        top = self.campaign.options.max_payload
        chosen = min(top, ((1024 + size) << (16 + exponent)) >> 10)
        name = self._next_conn_name()
        self._record(
            Step("slow_start", conn=name, payload=Payload.generated(chosen, seed, salt=name))
        )
        self.slow.append(name)

    @precondition(lambda self: self._enabled("slow_drain") and self.slow)
    @rule(pick=PICK)
    def slow_drain(self, pick: int) -> None:
        name = self.slow.pop(pick % len(self.slow))
        self._record(Step("slow_drain", conn=name))
        self.open.append(name)

    def _crowd_top(self) -> int:
        """The largest crowd now: within the declared limit, less what is already open."""
        options = self.campaign.options
        top = options.crowd_limit()
        if options.max_connections != DEFAULT_MAX_CONNECTIONS:  # declared: what is open counts
            top -= len(self.open) + len(self.slow)
        return top

    @initialize(data=st.data())
    def maybe_a_crowd(self, data: st.DataObject) -> None:
        """One test case in ``CROWD_ONE_IN`` opens with a crowd.

        A crowd costs as much as a hundred ordinary steps; drawn as often as
        they are, it would be most of every run. It comes first, so that a
        known bug met later in the case cannot hide what the crowd shows.
        """
        if not self._enabled("crowd") or self._crowd_top() < 2:
            return
        # Hypothesis draws the ends of a range far more often than the rest (0 was
        # drawn in four cases of ten from range(10)) and shrinks towards 0; so a
        # crowd is one residue of a wide range that neither end has, and shrinking
        # a case's choice towards 0 takes its crowd away rather than adding one.
        choice = data.draw(st.integers(0, 100 * CROWD_ONE_IN - 1), label="crowd or not")
        if choice % CROWD_ONE_IN != CROWD_ONE_IN // 2:
            return
        top = self._crowd_top()
        # The largest crowd often (descriptor limits bite near the top), any size sometimes.
        count = data.draw(st.one_of(st.just(top), st.integers(2, top)), label="crowd size")
        self._record(Step("crowd", conn=self._next_conn_name(), count=count))

    def teardown(self) -> None:
        self.steps.append(Step("finish"))
        try:
            executed, problems = self.campaign.execute_case(self.steps)
            if problems:
                self.problem = problems[0]
                self.known = self.campaign.is_known(self.problem)
                self.executed = executed
        finally:
            if self.problem is None or self.known:
                self.executed = len(self.steps)
            self.campaign.end_case(self.steps[: self.executed], self.problem is not None)
        if self.problem is not None and not self.known:
            raise EchoDivergence(self.problem, self.steps[: self.executed])
