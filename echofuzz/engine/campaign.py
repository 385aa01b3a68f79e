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
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from echofuzz.engine.executor import DifferentialExecutor, OracleFailure
from echofuzz.engine.machine import EchoDivergence, EchoMachine
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.shrink import renumber, shrink, tag_connections
from echofuzz.engine.targets import Target, TargetError, wait_until_accepting
from echofuzz.vocabulary import OPS, Payload, Step

MiB = 1 << 20
#: Test cases remembered for explaining a failure that needs history (the most recent ones).
HISTORY_CASES = 1000
#: While shrinking, waits use this fraction of the deadline (the result is confirmed in full).
SHRINK_DEADLINE = 0.25
#: What the pre-flight check sends; digits survive case-mangling servers.
SANITY_PAYLOAD = b"0123456789 echofuzz\n"


@dataclass
class FuzzOptions:
    """Knobs of a campaign. The defaults finish in well under a minute on a correct server."""

    max_examples: int = 100
    seed: int | None = None
    deadline: float = 1.0
    max_payload: int = 4 * MiB
    max_connections: int = 6
    steps_per_case: int = 30
    ops: frozenset[str] = frozenset(OPS)
    database: ExampleDatabase | None = None
    progress: bool = False
    shrink: bool = True
    #: Time budget for shrinking one failure (seconds).
    shrink_seconds: float = 60.0
    #: Failures whose text contains one of these are known bugs: skipped, not reported,
    #: so that the campaign can look for the next one.
    ignore: tuple[str, ...] = ()


@dataclass
class FuzzResult:
    """What a campaign found; ``to_json`` is the report format."""

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

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "target": self.target,
            "seed": self.seed,
            "examples": self.examples,
            "steps": self.steps,
            "elapsed_s": round(self.elapsed_s, 3),
            "first_failure_s": (
                None if self.first_failure_s is None else round(self.first_failure_s, 3)
            ),
            "first_failure_example": self.first_failure_example,
            "reason": self.reason,
            "reproduction": (
                None if self.reproduction is None else [s.to_json() for s in self.reproduction]
            ),
            "history_dependent": self.history_dependent,
            "reproduced": self.reproduced,
            "restarts": self.restarts,
            "notes": self.notes,
        }


class TargetLost(BaseException):
    """The target stopped answering and echofuzz cannot restart it.

    A BaseException so that Hypothesis lets it through instead of shrinking it:
    nothing about the current test case explains it.
    """


class Campaign:
    """Run the echo machine against ``target``; see the module docstring."""

    def __init__(self, target: Target, options: FuzzOptions | None = None) -> None:
        self.target = target
        self.options = options or FuzzOptions()
        unknown = set(self.options.ops) - set(OPS)
        if unknown:
            raise TargetError(f"unknown operations: {', '.join(sorted(unknown))}")
        self.portal: TrioThread | None = None
        self.executor: DifferentialExecutor | None = None
        self.examples = 0
        self.steps = 0
        self.started = 0.0
        self.first_failure: tuple[float, str, list[Step], list[list[Step]]] | None = None
        self.history: list[list[Step]] = []
        self.first_failure_example: int | None = None
        self.fresh_each_case = False
        self._last_progress = 0.0

    # -- called by the machine -----------------------------------------------------

    def begin_case(self) -> None:
        restarted = self.target.ensure_running(force_restart=self.fresh_each_case)
        if restarted:
            self.history = []
        elif (
            self.first_failure is not None
            and not self.target.restartable
            and not wait_until_accepting(self.target.address(), self.options.deadline)
        ):
            # After a failure, a server we cannot restart may be gone for good;
            # blaming the next test case for that would send the shrinker astray.
            raise TargetLost(f"{self.target.description} stopped accepting connections")
        assert self.portal is not None
        self.executor = DifferentialExecutor(
            self.portal, self.target.address(), oracle=None, deadline=self.options.deadline
        )
        self.examples += 1
        self._progress()

    def execute_case(self, steps: list[Step]) -> tuple[int, list[str]]:
        """Execute a generated test case in one hop: how many steps ran, the last one's problems.

        Execution stops after the first step with a problem, or after which the
        server is found dead, or when ``stop_requested`` says so.
        """
        assert self.executor is not None
        executed, problems = self.executor.execute_all(steps, self._stop_after)
        self.steps += executed
        problems = self._with_death_notice(problems)
        if problems and self.first_failure is None and not self.is_known(problems[0]):
            self.first_failure_example = self.examples
            elapsed = time.monotonic() - self.started
            self.first_failure = (elapsed, problems[0], [], list(self.history))
        return executed, problems

    def stop_requested(self) -> bool:
        """Asked on the trio thread between steps: stop early? (On Ctrl-C, in the CLI.)"""
        return False

    def _stop_after(self, problems: list[str]) -> bool:
        return bool(problems) or self.stop_requested() or self.target.death_notice() is not None

    def is_known(self, problem: str) -> bool:
        return any(text in problem for text in self.options.ignore)

    def _with_death_notice(self, problems: list[str]) -> list[str]:
        """Put the server's death first: it explains every other symptom."""
        notice = self.target.death_notice(grace=0.5 if problems else 0.0)
        return [f"the server {notice}", *problems] if notice is not None else problems

    def end_case(self, steps: list[Step], failed: bool) -> None:
        if self.executor is not None:
            self.executor.discard()
        if self.first_failure is not None and not self.first_failure[2]:
            elapsed, reason, _, history = self.first_failure
            self.first_failure = (elapsed, reason, list(steps), history)
        if failed:
            self.fresh_each_case = True
        self.history.append(list(steps))
        del self.history[:-HISTORY_CASES]  # memory stays bounded on long runs

    def _progress(self) -> None:
        if not self.options.progress:
            return
        now = time.monotonic()
        if now - self._last_progress < 0.5:
            return
        self._last_progress = now
        failures = "1 failure, shrinking" if self.first_failure else "no failures"
        sys.stderr.write(
            f"\r  {self.examples} test cases, {self.steps} steps, {failures}, "
            f"{now - self.started:.0f} s "
        )
        sys.stderr.flush()

    # -- the campaign ------------------------------------------------------------

    def _settings(self) -> settings:
        # Hypothesis's shrinker is left out: ``echofuzz.engine.shrink`` works on steps,
        # which it understands better, and replays far fewer candidates.
        phases = [Phase.explicit, Phase.reuse, Phase.generate]
        return settings(
            max_examples=self.options.max_examples,
            stateful_step_count=self.options.steps_per_case,
            deadline=None,
            database=self.options.database,
            phases=phases,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )

    def _sanity_check(self) -> None:
        """Refuse, in one line, a target that does not echo at all."""
        assert self.executor is not None
        problems = self.executor.execute(Step("connect", conn="c0"))
        if not problems:
            self.executor.execute(Step("send", conn="c0", payload=Payload.literal(SANITY_PAYLOAD)))
            self.executor.execute(Step("expect", conn="c0"))
            pair = self.executor.pairs["c0"]
            back = bytes(pair.target.ledger.received)
            if not back or back[:1] != SANITY_PAYLOAD[:1]:
                problems = [f"sent {len(SANITY_PAYLOAD)} bytes and got back {back[:40]!r}"]
            else:
                # Leave as politely as a client can (FIN, nothing unread): an abortive
                # close here would crash the servers that die of resets, and the crash
                # would be blamed on the first test case.
                self.executor.execute(Step("close", conn="c0"))
        self.executor.discard()
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
                self.executor = DifferentialExecutor(
                    portal, self.target.address(), oracle=None, deadline=self.options.deadline
                )
                self._sanity_check()
                self._fuzz(result)
        finally:
            self.target.stop()
            if self.options.progress:
                sys.stderr.write("\n")
        result.examples, result.steps = self.examples, self.steps
        result.elapsed_s = time.monotonic() - self.started
        if self.first_failure is not None:
            result.first_failure_s = self.first_failure[0]
            result.first_failure_example = self.first_failure_example
        result.restarts = getattr(self.target, "restarts", 0)
        return result

    def _fuzz(self, result: FuzzResult) -> None:
        machine = EchoMachine.bind(self)
        if self.options.seed is not None:
            machine = hypothesis_seed(self.options.seed)(machine)
        try:
            run_state_machine_as_test(machine, settings=self._settings())
        except EchoDivergence as divergence:
            result.verdict = "fail"
            self._conclude(result, divergence.steps, divergence.reason)
        except (Flaky, TargetLost):
            self._explain_history(result)
        except KeyboardInterrupt:
            result.verdict = "interrupted"
            result.notes.append("interrupted by the user; figures are partial")
            if self.first_failure is not None:
                result.reason = self.first_failure[1]
                result.reproduction = self.first_failure[2] or None
                result.reproduced = False

    def _conclude(self, result: FuzzResult, steps: list[Step], reason: str) -> None:
        """A reproducible failure: shrink it (unless told not to) and name it plainly."""
        if self.options.shrink:
            steps, reason = shrink(
                steps, reason, self._quick_replay, self.options.shrink_seconds, self._fresh_replay
            )
        result.reproduction, result.reason = renumber(steps, reason)
        result.reproduced = True

    def _explain_history(self, result: FuzzResult) -> None:
        """A failure that needs earlier test cases: replay them on a fresh server."""
        result.verdict, result.history_dependent = "fail", True
        if self.first_failure is None:
            result.reason = "the server stopped answering between test cases"
            result.reproduction = [s for case in self.history for s in case]
            return
        _, reason, failing, history = self.first_failure
        # Hypothesis's replay may have lost a race; the case may still fail on its own,
        # once the end-of-case check makes a crash observable.
        if not failing or failing[-1].op != "finish":
            failing = [*failing, Step("finish")]
        for _ in range(2):
            alone = self.replay(failing, fresh=True)
            if alone is not None and not self.is_known(alone):
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
        replayed = self.replay(steps, fresh=True)
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

    def _fresh_replay(self, steps: list[Step]) -> str | None:
        return self.replay(steps, fresh=True)

    def _quick_replay(self, steps: list[Step]) -> str | None:
        """A replay with short deadlines: a stall costs less, and confirmation redoes it."""
        return self.replay(steps, fresh=True, deadline=self.options.deadline * SHRINK_DEADLINE)

    def replay(self, steps: list[Step], fresh: bool, deadline: float | None = None) -> str | None:
        """Run ``steps`` (test cases separated by 'finish') differentially; the first problem.

        A problem the options say to ignore counts as no reproduction: it ends the
        replay as it ends a test case, before the failure being chased can show.
        """
        assert self.portal is not None
        self.target.ensure_running(force_restart=fresh)
        executor = DifferentialExecutor(
            self.portal,
            self.target.address(),
            oracle=None,
            deadline=self.options.deadline if deadline is None else deadline,
        )
        try:
            _, problems = executor.execute_all(steps, self._stop_after)
            problems = self._with_death_notice(problems)
            if problems and not self.is_known(problems[0]):
                return problems[0]
        except OracleFailure:
            return None  # a candidate the oracle cannot follow is no reproduction
        finally:
            executor.discard()
        return None
