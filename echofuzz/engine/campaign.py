"""A fuzzing campaign: Hypothesis drives the echo machine against one target and the oracle.

This is the one entry point the command line, the pytest plugin and the tests
share: ``Campaign(target, FuzzOptions(...)).run()`` returns a ``FuzzResult``.

Theory of operation:

1. One trio loop (``TrioThread``) hosts the oracle and every client connection
   for the whole campaign; the oracle's connections are socketpairs. The
   machine generates a whole test case first and the campaign executes it in
   one hop (``execute_case``): steps never depend on outcomes, and a case then
   runs exactly as its replays will, back to back. (One hop per step spent
   more time crossing threads than executing steps.)
2. Each Hypothesis test case gets a fresh ``DifferentialExecutor``; a target
   that died is restarted before the next case (when echofuzz spawned it), and
   so is one whose last test case failed, so that the failing case's replay
   starts from where it started, and a known crash does not spill over.
3. A failing test case is shrunk by ``echofuzz.engine.shrink``, replaying candidate
   step lists on a fresh server, rather than by Hypothesis (see there why).
4. A failure that Hypothesis cannot reproduce on a fresh server is a bug that
   depends on history (leaks, counters). Rather than Hypothesis's "Flaky"
   error, the campaign replays the earlier test cases since the server's last
   start followed by the failing one, and reports that history.
5. A run reports every distinct bug it meets, not only the first: the search
   goes in rounds. Each round is one Hypothesis run, ended by the first failure
   whose signature (``finding_key``) is new; that failure is shrunk on its own
   and becomes a ``Finding``, and the next round goes on with the examples left
   and a seed of its own. A failure with a known signature is counted (``hits``)
   and ends its test case quietly, and the server is restarted, so that a known
   crash cannot blind the search for the next bug. ``max_bugs`` bounds it.
6. Only a confirmed failure fails the run: the shrinker's result must fail on
   every confirmation, the first with the patience that tells a stall from a
   slow server. One that never confirms is an unconfirmed finding (a warning).
7. Ctrl-C stops the campaign cleanly with a partial result.

What varies between callers is passed in, never overridden: the front ends
give a ``checkpoint`` (called at every boundary where an interrupt may land)
and a ``stop_requested`` test (asked between steps, on the trio thread); the
benchmarks give an ``executor`` factory, ``around_fuzzing`` (a context
manager around the fuzzing phase, on the portal) and ``preflight=False``.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from echofuzz.engine.executor import DifferentialExecutor
from echofuzz.engine.machine import EchoDivergence, EchoMachine
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.replay import never, replay, with_death_notice
from echofuzz.engine.shrink import renumber, shrink, signature, tag_connections
from echofuzz.engine.targets import Target, TargetError, wait_until_accepting
from echofuzz.model import HalfClose
from echofuzz.options import FuzzOptions
from echofuzz.result import ORACLE_DID, Failure, Finding, FuzzResult, claim_of, is_stall
from echofuzz.vocabulary import OPS, Payload, Step
from echofuzz.wire import raise_descriptor_limit

#: Test cases remembered for explaining a failure that needs history (the most recent ones).
HISTORY_CASES = 1000
#: While shrinking, waits use this fraction of the deadline (the result is confirmed in full).
SHRINK_DEADLINE_FRACTION = 0.25
#: What the pre-flight check sends; digits survive case-mangling servers.
SANITY_PAYLOAD = b"0123456789 echofuzz\n"
#: The pre-flight check's steps: one connection, one line, its echo, a polite close.
PREFLIGHT_STEPS = (
    Step("connect", conn="c0"),
    Step("send", conn="c0", payload=Payload.literal(SANITY_PAYLOAD)),
    Step("expect", conn="c0"),
    Step("close", conn="c0"),
)
#: Unconfirmed findings after which a run stops looking (they do not count as bugs).
MAX_UNCONFIRMED = 10
#: Seconds between progress reports.
PROGRESS_EVERY = 0.5
#: Latencies kept for the report (the first ones; the rest are counted).
KEPT_LATENCIES = 20


def finding_key(reason: str) -> str:
    """What makes two failures one finding: the claim, and the text with names and sizes blanked."""
    return f"{claim_of(reason)}: {signature(reason)}"


def round_seed(seed: int | None, search: int) -> int | None:
    """The seed of the ``search``-th round: the run's own for the first, so one round is today's."""
    if seed is None or search == 0:
        return seed
    return (seed * 1_000_003 + search * 7_919) % (1 << 32)


class CaseExecutor(Protocol):
    """What the campaign needs of an executor (``DifferentialExecutor``, or a benchmark's stub)."""

    #: Waits that outlasted their deadline but ended within the patience.
    latencies: list[str]

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]: ...

    def discard(self) -> None: ...


#: ``(portal, target address, deadline, patience)`` to an executor for one test case.
ExecutorFactory = Callable[[TrioThread, tuple[str, int], float, "float | None"], CaseExecutor]


def differential(
    portal: TrioThread,
    address: tuple[str, int],
    deadline: float,
    patience: float | None,
    half_close: HalfClose = "echo",
) -> CaseExecutor:
    return DifferentialExecutor(portal, address, None, deadline, patience, half_close)


@contextlib.contextmanager
def nothing_around(portal: TrioThread) -> Iterator[None]:
    yield


def no_checkpoint() -> None:
    pass


class TargetLost(BaseException):
    """The target stopped answering and echofuzz cannot restart it.

    A BaseException so that Hypothesis lets it through instead of shrinking it:
    nothing about the current test case explains it.
    """


class Campaign:
    """Run the echo machine against ``target``; see the module docstring."""

    def __init__(
        self,
        target: Target,
        options: FuzzOptions | None = None,
        *,
        database: ExampleDatabase | None = None,
        executor: ExecutorFactory | None = None,
        checkpoint: Callable[[], None] = no_checkpoint,
        stop_requested: Callable[[], bool] = never,
        progress: Callable[[str], None] | None = None,
        around_fuzzing: Callable[[TrioThread], contextlib.AbstractContextManager[object]] = (
            nothing_around
        ),
        preflight: bool = True,
    ) -> None:
        self.target = target
        self.options = options or FuzzOptions()
        unknown = set(self.options.ops) - set(OPS)
        if unknown:
            raise ValueError(f"unknown operations: {', '.join(sorted(unknown))}")
        self.database = database
        self.make_executor = executor or functools.partial(
            differential, half_close=self.options.half_close
        )
        self.checkpoint = checkpoint
        self.stop_requested = stop_requested
        self.progress = progress
        self.around_fuzzing = around_fuzzing
        self.preflight = preflight
        self.portal: TrioThread | None = None
        self.executor: CaseExecutor | None = None
        self.examples = 0
        self.steps = 0
        self.started = 0.0
        #: The failure the current round is chasing, from when it was first met.
        self.failure: Failure | None = None
        #: Every distinct finding so far, by ``finding_key``; confirmed or not.
        self.findings: dict[str, Finding] = {}
        self.latencies: list[str] = []
        self.latency_count = 0
        #: The executors' patience while fuzzing: the default (None) until a stall is a
        #: confirmed finding; then none, since waiting it out in every later test case
        #: would only slow the search (new stalls are still confirmed with it).
        self.patience: float | None = None
        self.history: list[list[Step]] = []
        #: Start the next test case on a fresh server: the last one failed (a new bug, whose
        #: replay must start where it did, or a known one, which may have left it broken).
        self.fresh_next = False
        self._last_progress = 0.0
        #: Set when a server that cannot be restarted went away (``_gone``).
        self.lost: str | None = None
        self.lost_steps: list[Step] = []

    # -- called by the machine -----------------------------------------------------

    def begin_case(self) -> None:
        self.checkpoint()
        restarted = self.target.ensure_running(force_restart=self.fresh_next)
        if restarted:
            self.history = []
        elif (
            self.failure is not None
            and not self.target.restartable
            and not wait_until_accepting(self.target.address(), self.options.deadline)
        ):
            # After a failure, a server we cannot restart may be gone for good;
            # blaming the next test case for that would send the shrinker astray.
            raise TargetLost(f"{self.target.description} stopped accepting connections")
        assert self.portal is not None
        self.executor = self.make_executor(
            self.portal, self.target.address(), self.options.deadline, self.patience
        )
        self.examples += 1
        self._report_progress()

    def execute_case(self, steps: list[Step]) -> tuple[int, list[str]]:
        """Execute a generated test case in one hop: how many steps ran, the last one's problems.

        Execution stops after the first step with a problem, or after which the
        server is found dead, or when ``stop_requested`` says so.
        """
        assert self.executor is not None
        self.checkpoint()
        executed, problems = self.executor.execute_all(steps, self._stop_after)
        self.checkpoint()  # stop_requested may have cut the case short
        self.steps += executed
        problems = with_death_notice(self.target, problems)
        self._keep_latencies(self.executor.latencies)
        if problems:
            known = self.findings.get(finding_key(problems[0]))
            if known is not None:
                known.hits += 1
            elif self.failure is None and not self.is_known(problems[0]):
                elapsed = time.monotonic() - self.started
                self.failure = Failure(elapsed, problems[0], self.examples, [], list(self.history))
        return executed, problems

    def _keep_latencies(self, latencies: Sequence[str]) -> None:
        self.latency_count += len(latencies)
        self.latencies += latencies[: max(0, KEPT_LATENCIES - len(self.latencies))]

    def _stop_after(self, problems: list[str]) -> bool:
        return bool(problems) or self.stop_requested() or self.target.death_notice() is not None

    def is_known(self, problem: str) -> bool:
        """A problem to pass over: ignored by the options, or a finding already made."""
        if finding_key(problem) in self.findings:
            return True
        return any(text in problem for text in self.options.ignore)

    def end_case(self, steps: list[Step], failed: bool) -> None:
        if self.executor is not None:
            self.executor.discard()
        if self.failure is not None and not self.failure.steps:
            self.failure.steps = list(steps)
        self.fresh_next = failed
        self.history.append(list(steps))
        del self.history[:-HISTORY_CASES]  # memory stays bounded on long runs

    def _report_progress(self) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY:
            return
        self._last_progress = now
        found = len(self.findings)
        failures = f"{found} finding{'s' if found != 1 else ''}" if found else "no failures"
        if self.failure is not None:
            failures += ", shrinking one"
        self.progress(
            f"{self.examples} test cases, {self.steps} steps, {failures}, "
            f"{now - self.started:.0f} s"
        )

    # -- the campaign ------------------------------------------------------------

    def hypothesis_settings(self, max_examples: int | None = None, reuse: bool = True) -> settings:
        # Hypothesis's shrinker is left out: ``echofuzz.engine.shrink`` works on
        # steps, which it understands better, and replays far fewer candidates.
        # Saved failures are reused in the first round only: in a later one, a
        # saved failure already found would pass (it is known), and Hypothesis
        # would delete it from the database for that.
        phases = [Phase.explicit, Phase.reuse, Phase.generate]
        if not reuse:
            phases.remove(Phase.reuse)
        return settings(
            max_examples=max_examples or self.options.max_examples,
            stateful_step_count=self.options.steps_per_case,
            deadline=None,
            database=self.database,
            phases=phases,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )

    def _sanity_check(self) -> None:
        """Refuse, in one line that says why, a target that does not echo at all.

        A wrong target (an HTTP server, a greeter, a port nobody serves) should
        be told apart from a faulty echo server at once, and a server that was
        merely slow to get going gets a second try before exit 2.
        """
        problem = self._preflight()
        if problem is not None:
            self.target.ensure_running(force_restart=self.target.restartable)
            problem = self._preflight()
        if problem is not None:
            raise TargetError(f"{self.target.description} does not echo: {problem}")

    def _preflight(self) -> str | None:
        """One connection, one line, its echo; None when it came back, else what happened."""
        assert self.portal is not None
        executor = DifferentialExecutor(
            self.portal,
            self.target.address(),
            None,
            self.options.deadline,
            patience=0.0,  # a silent server is told so in a second, not in ten
            half_close=self.options.half_close,
        )
        try:
            problems = executor.execute(PREFLIGHT_STEPS[0])
            if "c0" not in executor.pairs:  # the connect itself failed
                return problems[0].removeprefix("c0: ")
            if not problems:  # (a greeting, or a close, shows already: judge what came)
                executor.execute(PREFLIGHT_STEPS[1])
                executor.execute(PREFLIGHT_STEPS[2])
            ledger = executor.pairs["c0"].target.ledger
            back = bytes(ledger.received)
            if back[:1] == SANITY_PAYLOAD[:1] and not problems:  # an echo, if a faulty one
                # Leave as politely as a client can (FIN, nothing unread): an abortive
                # close here would crash the servers that die of resets, and the crash
                # would be blamed on the first test case.
                executor.execute(PREFLIGHT_STEPS[3])
                return None
            sent = "before a byte was sent" if problems else f"sent {SANITY_PAYLOAD!r}"
            if back:
                return f"{sent} and it answered with other bytes: {back[:60]!r}"
            ending = {
                "eof": "it closed the connection without a byte back",
                "reset": "it reset the connection without a byte back",
                "open": f"it stayed silent for {self.options.deadline:g} s",
            }
            return f"{sent} and {ending[ledger.remote]}"
        finally:
            executor.discard()

    def run(self) -> FuzzResult:
        """Start the target and the oracle, fuzz, and stop everything again."""
        result = FuzzResult("pass", self.target.description, self.options.seed)
        self.started = time.monotonic()
        raise_descriptor_limit()  # before the server starts: it inherits the limit too
        self.target.start()
        try:
            with TrioThread() as portal:
                self.portal = portal
                if self.preflight:
                    self._sanity_check()
                    # What the server saw before the first test case, for a history's replay:
                    # a bug that counts connections must count this one too.
                    self.history = [list(PREFLIGHT_STEPS)]
                with self.around_fuzzing(portal):
                    self._fuzz(result)
        finally:
            self.target.stop()
        result.examples, result.steps = self.examples, self.steps
        result.elapsed_s = time.monotonic() - self.started
        result.restarts = self.target.restarts
        self._summarise(result)
        return result

    def _summarise(self, result: FuzzResult) -> None:
        """The findings into the result; its top-level fields describe the first bug."""
        distinct = list({id(f): f for f in self.findings.values()}.values())  # one per finding
        result.bugs = [f for f in distinct if f.reproduced]
        result.unconfirmed = [f for f in distinct if not f.reproduced]
        result.latencies = list(self.latencies)
        result.latency_count = self.latency_count
        result.lost = self.lost
        if result.verdict == "interrupted":
            if result.reason is None and result.bugs:
                result.reason, result.reproduction = (
                    result.bugs[0].reason,
                    result.bugs[0].reproduction,
                )
                result.reproduced = True
            return
        if result.bugs:
            first = result.bugs[0]
            result.verdict = "fail"
            result.reason, result.reproduction = first.reason, first.reproduction
            result.reproduced, result.history_dependent = True, first.needs_history
            result.first_failure_s = first.first_seen_s
            result.first_failure_example = first.first_example
            result.notes[:0] = first.notes
            if self.lost is not None:
                result.notes.append(self.lost)
        elif self.lost is not None:
            result.verdict, result.reason, result.reproduced = "lost", self.lost, False
            result.reproduction = self.lost_steps or None
        else:
            result.verdict = "pass"

    def _fuzz(self, result: FuzzResult) -> None:
        """Search in rounds, one new finding per round, until examples or ``max_bugs`` run out."""
        for search in range(self.options.max_bugs + MAX_UNCONFIRMED):
            left = self.options.max_examples - self.examples
            if left <= 0 or (search and self.stop_requested()):
                return
            confirmed = {id(f) for f in self.findings.values() if f.reproduced}
            unconfirmed = {id(f) for f in self.findings.values() if not f.reproduced}
            if len(confirmed) >= self.options.max_bugs or len(unconfirmed) >= MAX_UNCONFIRMED:
                return
            machine = EchoMachine.bind(self)
            seed = round_seed(self.options.seed, search)
            if seed is not None:
                machine = hypothesis_seed(seed)(machine)
            self.failure = None
            try:
                settings_now = self.hypothesis_settings(left, reuse=search == 0)
                run_state_machine_as_test(machine, settings=settings_now)
                return  # the examples ran out with no new finding
            except EchoDivergence as divergence:
                if self._gone(divergence.reason, divergence.steps):
                    return
                self._conclude(divergence.steps, divergence.reason)
            except Flaky:
                if self._gone():
                    return
                self._explain_history()
            except TargetLost:
                if not self._gone():
                    self._explain_history()
                return  # nothing more can be learnt from a server that is gone
            except KeyboardInterrupt:
                self.interrupted(result)
                return

    def _gone(self, reason: str | None = None, steps: list[Step] | None = None) -> bool:
        """Whether a server echofuzz cannot restart has stopped accepting: the run ends.

        Shrinking or replaying against it would only meet refused connects, and
        make each look like a bug of its own; what can be said is when it went,
        and what the test case that saw it go was doing.
        """
        if self.target.restartable or wait_until_accepting(
            self.target.address(), self.options.deadline
        ):
            return False
        failure = self.failure
        why = reason or (failure.reason if failure is not None else None)
        case = failure.example if failure is not None else self.examples
        elapsed = failure.elapsed_s if failure is not None else time.monotonic() - self.started
        self.lost = (
            f"{self.target.description} stopped accepting connections during test case "
            f"{case}, {elapsed:.1f} s into the run"
            + (f" ({why})" if why else "")
            + "; echofuzz cannot restart a server it did not start (--spawn CMD can), "
            "so nothing after that was tested and nothing was shrunk"
        )
        self.lost_steps = list(steps if steps else failure.steps if failure is not None else [])
        return True

    def _record(self, finding: Finding) -> None:
        """Keep a finding under its own key and its first symptom's; merge it into a known one.

        A failure first seen as one symptom (a refused connect) may shrink to
        a finding already made (the crash behind it): then it is a hit of
        that one, and its symptom is known from now on too.
        """
        if is_stall(finding.reason):
            # Patience keeps a slow moment from costing a shrink; once a stall is a
            # finding, later cases meet it again, and each would wait the whole
            # patience for it (an unconfirmed one too: cases that meet it keep coming).
            # New stalls are still confirmed with patience before they count.
            self.patience = 0.0
        failure = self.failure
        if failure is not None:
            finding.first_seen_s, finding.first_example = failure.elapsed_s, failure.example
        known = self.findings.get(finding_key(finding.reason))
        if known is not None and known is not finding:
            known.hits += finding.hits
            finding = known
        self.findings.setdefault(finding_key(finding.reason), finding)
        if failure is not None:
            self.findings.setdefault(finding_key(failure.reason), finding)
        self.failure = None

    def _finding(
        self, steps: list[Step], reason: str, reproduced: bool, history: bool = False
    ) -> Finding:
        steps, reason = renumber(steps, reason)
        claim = claim_of(reason)
        return Finding(
            reason=reason,
            claim=claim,
            reproduction=steps,
            reproduced=reproduced,
            needs_history=history,
            first_seen_s=time.monotonic() - self.started,
            signature=finding_key(reason),
            server_did=reason,
            oracle_did=ORACLE_DID[claim],
        )

    def _conclude(self, steps: list[Step], reason: str, history: bool = False) -> Finding:
        """A failure Hypothesis saw twice: shrink it (unless told not to), confirm it, record it."""
        if not self.options.shrink:
            finding = self._finding(steps, reason, reproduced=True, history=history)
        else:
            quick = self.options.deadline * SHRINK_DEADLINE_FRACTION
            shrunk = shrink(
                steps,
                reason,
                lambda candidate: self.replay(candidate, deadline=quick, patience=0.0),
                self.options.shrink_time,
                confirm=(self.replay, lambda c: self.replay(c, patience=0.0)),
            )
            if shrunk is None:
                finding = self._finding(steps, reason, reproduced=False, history=history)
                finding.notes.append(
                    "it did not fail again when replayed on a fresh server: unconfirmed"
                )
            else:
                finding = self._finding(*shrunk, reproduced=True, history=history)
        self._record(finding)
        return finding

    def _explain_history(self) -> None:
        """A failure Hypothesis could not repeat: try it alone, then after its history."""
        failure = self.failure
        if failure is None:
            finding = self._finding(
                [s for case in self.history for s in case] or [Step("finish")],
                "the server stopped answering between test cases",
                reproduced=False,
                history=True,
            )
            self._record(finding)
            return
        reason, failing, history = failure.reason, failure.steps, failure.history
        # Hypothesis's replay may have lost a race; the case may still fail on its own,
        # once the end-of-case check makes a crash observable.
        if not failing or failing[-1].op != "finish":
            failing = [*failing, Step("finish")]
        for _ in range(2):
            alone = self.replay(failing)
            if alone is not None:
                finding = self._conclude(failing, alone)
                finding.notes.append(
                    "the failure depends on timing: it did not reproduce every time"
                )
                return
        if not history:
            finding = self._finding(failing, reason, reproduced=False)
            finding.notes.append("the failure depends on timing: it did not reproduce every time")
            self._record(finding)
            return
        steps = tag_connections([*history, failing])
        replayed = self.replay(steps)
        if replayed is not None:
            finding = self._conclude(steps, replayed, history=True)
        else:
            finding = self._finding(steps, reason, reproduced=False, history=True)
            self._record(finding)
        finding.notes.append(
            f"this failure shows only after {len(history)} earlier test case(s) on the same "
            f"server process; the reproduction replays them first"
        )

    def interrupted(self, result: FuzzResult) -> None:
        """What is known when the user stopped the run: partial figures, the failure as found."""
        result.verdict = "interrupted"
        result.examples, result.steps = self.examples, self.steps
        result.notes.append("interrupted by the user; figures are partial")
        failure = self.failure
        if failure is not None:
            result.first_failure_s, result.reason, result.reproduced = (
                failure.elapsed_s,
                failure.reason,
                False,
            )
            found = [step for case in failure.history for step in case] + failure.steps
            result.reproduction = failure.steps or found or None
        self._summarise(result)

    def replay(
        self, steps: list[Step], deadline: float | None = None, patience: float | None = None
    ) -> str | None:
        """``engine.replay`` on a fresh server with this campaign's options; interruptible.

        Problems the options ignore count as no reproduction; so do findings
        already made, other than the one being chased (the shrinker's signature
        check then turns such a candidate down).
        """
        assert self.portal is not None
        self.checkpoint()
        problem = replay(
            self.portal,
            self.target,
            steps,
            self.options.deadline if deadline is None else deadline,
            ignore=self.options.ignore,
            stop_requested=self.stop_requested,
            patience=patience,
            half_close=self.options.half_close,
        )
        self.checkpoint()
        return problem
