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
   once a failure has been seen every case starts on a fresh server, so that
   shrinking replays each candidate from the same starting state.
3. A failing test case is shrunk by ``echofuzz.engine.shrink``, replaying candidate
   step lists on a fresh server, rather than by Hypothesis (see there why).
4. A failure that Hypothesis cannot reproduce on a fresh server is a bug that
   depends on history (leaks, counters). Rather than Hypothesis's "Flaky"
   error, the campaign replays the earlier test cases since the server's last
   start followed by the failing one, and reports that history.
5. Ctrl-C stops the campaign cleanly with a partial result.

What varies between callers is passed in, never overridden: the front ends
give a ``checkpoint`` (called at every boundary where an interrupt may land)
and a ``stop_requested`` test (asked between steps, on the trio thread); the
benchmarks give an ``executor`` factory, ``around_fuzzing`` (a context
manager around the fuzzing phase, on the portal) and ``preflight=False``.
"""

from __future__ import annotations

import contextlib
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
from echofuzz.engine.shrink import renumber, shrink, tag_connections
from echofuzz.engine.targets import Target, TargetError, wait_until_accepting
from echofuzz.options import FuzzOptions
from echofuzz.result import Failure, FuzzResult
from echofuzz.vocabulary import OPS, Payload, Step

#: Test cases remembered for explaining a failure that needs history (the most recent ones).
HISTORY_CASES = 1000
#: While shrinking, waits use this fraction of the deadline (the result is confirmed in full).
SHRINK_DEADLINE_FRACTION = 0.25
#: What the pre-flight check sends; digits survive case-mangling servers.
SANITY_PAYLOAD = b"0123456789 echofuzz\n"
#: Seconds between progress reports.
PROGRESS_EVERY = 0.5


class CaseExecutor(Protocol):
    """What the campaign needs of an executor (``DifferentialExecutor``, or a benchmark's stub)."""

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]: ...

    def discard(self) -> None: ...


#: ``(portal, target address, deadline)`` to an executor for one test case.
ExecutorFactory = Callable[[TrioThread, tuple[str, int], float], CaseExecutor]


def differential(portal: TrioThread, address: tuple[str, int], deadline: float) -> CaseExecutor:
    return DifferentialExecutor(portal, address, None, deadline)


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
        executor: ExecutorFactory = differential,
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
        self.make_executor = executor
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
        self.failure: Failure | None = None
        self.history: list[list[Step]] = []
        self.fresh_each_case = False
        self._last_progress = 0.0

    # -- called by the machine -----------------------------------------------------

    def begin_case(self) -> None:
        self.checkpoint()
        restarted = self.target.ensure_running(force_restart=self.fresh_each_case)
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
            self.portal, self.target.address(), self.options.deadline
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
        if problems and self.failure is None and not self.is_known(problems[0]):
            elapsed = time.monotonic() - self.started
            self.failure = Failure(elapsed, problems[0], self.examples, [], list(self.history))
        return executed, problems

    def _stop_after(self, problems: list[str]) -> bool:
        return bool(problems) or self.stop_requested() or self.target.death_notice() is not None

    def is_known(self, problem: str) -> bool:
        return any(text in problem for text in self.options.ignore)

    def end_case(self, steps: list[Step], failed: bool) -> None:
        if self.executor is not None:
            self.executor.discard()
        if self.failure is not None and not self.failure.steps:
            self.failure.steps = list(steps)
        if failed:
            self.fresh_each_case = True
        self.history.append(list(steps))
        del self.history[:-HISTORY_CASES]  # memory stays bounded on long runs

    def _report_progress(self) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY:
            return
        self._last_progress = now
        failures = "1 failure, shrinking" if self.failure else "no failures"
        self.progress(
            f"{self.examples} test cases, {self.steps} steps, {failures}, "
            f"{now - self.started:.0f} s"
        )

    # -- the campaign ------------------------------------------------------------

    def hypothesis_settings(self) -> settings:
        # Hypothesis's shrinker is left out: ``echofuzz.engine.shrink`` works on
        # steps, which it understands better, and replays far fewer candidates.
        phases = [Phase.explicit, Phase.reuse, Phase.generate]
        return settings(
            max_examples=self.options.max_examples,
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
        """Refuse, in one line, a target that does not echo at all."""
        assert self.portal is not None
        executor = DifferentialExecutor(
            self.portal, self.target.address(), None, self.options.deadline
        )
        try:
            problems = executor.execute(Step("connect", conn="c0"))
            if not problems:
                executor.execute(Step("send", conn="c0", payload=Payload.literal(SANITY_PAYLOAD)))
                executor.execute(Step("expect", conn="c0"))
                back = bytes(executor.pairs["c0"].target.ledger.received)
                if not back or back[:1] != SANITY_PAYLOAD[:1]:
                    problems = [f"sent {len(SANITY_PAYLOAD)} bytes and got back {back[:40]!r}"]
                else:
                    # Leave as politely as a client can (FIN, nothing unread): an abortive
                    # close here would crash the servers that die of resets, and the crash
                    # would be blamed on the first test case.
                    executor.execute(Step("close", conn="c0"))
        finally:
            executor.discard()
        if problems:
            raise TargetError(f"{self.target.description} does not echo: {problems[0]}")

    def run(self) -> FuzzResult:
        """Start the target and the oracle, fuzz, and stop everything again."""
        result = FuzzResult("pass", self.target.description, self.options.seed)
        self.started = time.monotonic()
        self.target.start()
        try:
            with TrioThread() as portal:
                self.portal = portal
                if self.preflight:
                    self._sanity_check()
                with self.around_fuzzing(portal):
                    self._fuzz(result)
        finally:
            self.target.stop()
        result.examples, result.steps = self.examples, self.steps
        result.elapsed_s = time.monotonic() - self.started
        if self.failure is not None:
            result.first_failure_s = self.failure.elapsed_s
            result.first_failure_example = self.failure.example
        result.restarts = self.target.restarts
        return result

    def _fuzz(self, result: FuzzResult) -> None:
        machine = EchoMachine.bind(self)
        if self.options.seed is not None:
            machine = hypothesis_seed(self.options.seed)(machine)
        try:
            run_state_machine_as_test(machine, settings=self.hypothesis_settings())
        except EchoDivergence as divergence:
            result.verdict = "fail"
            self._conclude(result, divergence.steps, divergence.reason)
        except (Flaky, TargetLost):
            self._explain_history(result)
        except KeyboardInterrupt:
            self.interrupted(result)

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

    def _conclude(self, result: FuzzResult, steps: list[Step], reason: str) -> None:
        """A reproducible failure: shrink it (unless told not to) and name it plainly."""
        if self.options.shrink:
            quick = self.options.deadline * SHRINK_DEADLINE_FRACTION
            steps, reason = shrink(
                steps,
                reason,
                lambda candidate: self.replay(candidate, deadline=quick),
                self.options.shrink_time,
                self.replay,
            )
        result.reproduction, result.reason = renumber(steps, reason)
        result.reproduced = True

    def _explain_history(self, result: FuzzResult) -> None:
        """A failure that needs earlier test cases: replay them on a fresh server."""
        result.verdict, result.history_dependent = "fail", True
        if self.failure is None:
            result.reason = "the server stopped answering between test cases"
            result.reproduction = [s for case in self.history for s in case]
            return
        reason, failing, history = self.failure.reason, self.failure.steps, self.failure.history
        # Hypothesis's replay may have lost a race; the case may still fail on its own,
        # once the end-of-case check makes a crash observable.
        if not failing or failing[-1].op != "finish":
            failing = [*failing, Step("finish")]
        for _ in range(2):
            alone = self.replay(failing)
            if alone is not None:
                result.history_dependent = False
                self._conclude(result, failing, alone)
                result.notes.append(
                    "the failure depends on timing: it did not reproduce every time"
                )
                return
        if not history:
            # Nothing came before it: the failure depends on timing, not on history.
            result.history_dependent = False
        steps = tag_connections([*history, failing])
        replayed = self.replay(steps)
        if replayed is not None:
            self._conclude(result, steps, replayed)
        else:
            result.reproduction, result.reason = renumber(steps, reason)
            result.reproduced = False
        if history:
            result.notes.append(
                f"this failure shows only after {len(history)} earlier test case(s) on the same "
                f"server process; the reproduction replays them first"
            )
        else:
            result.notes.append("the failure depends on timing: it did not reproduce every time")

    def replay(self, steps: list[Step], deadline: float | None = None) -> str | None:
        """``engine.replay`` on a fresh server with this campaign's options; interruptible."""
        assert self.portal is not None
        self.checkpoint()
        problem = replay(
            self.portal,
            self.target,
            steps,
            self.options.deadline if deadline is None else deadline,
            ignore=self.options.ignore,
            stop_requested=self.stop_requested,
        )
        self.checkpoint()
        return problem
