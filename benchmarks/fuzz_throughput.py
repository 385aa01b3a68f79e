"""Fuzzer throughput: steps per second of the echo machine, next to Hypothesis's own ceiling.

One repeat runs, with the same seed and options, so that every variant performs
the same test cases and the same steps:

* **ceiling**: a Hypothesis ``RuleBasedStateMachine`` with the echo machine's
  ten rules, their arguments and their preconditions, whose bodies only keep
  the bookkeeping (no draws inside, no I/O), run by ``run_state_machine_as_test``
  with the campaign's own settings. Nothing built on Hypothesis's stateful
  testing can do more steps per second than this.
* **ceiling3**: the machine a new user writes first, three trivial rules
  (``connect``, ``send`` of a drawn ``st.binary`` payload, ``close``) with
  preconditions on a list of open connections, run the same way. Fewer rules
  mean less for Hypothesis to choose among, so it does more steps per second
  than the ten-rule ceiling: the fraction against it is the stricter one (the
  issue's target is read against it).
* **select** and **threads**: ``Campaign(...).run()`` against
  ``impl.select_echo`` and ``tests/corpus/correct_threads.py``, timed from the
  first test case to the last (server start-up and the pre-flight check are
  left out; they are paid once per campaign).
* two variants that explain the gap (the *breakdown*): the echo machine with
  an executor that only hops into the trio thread and back, once per test case
  (Hypothesis, the machine's own work and the hop), and the real executor
  against the select server with the CPU time of each thread and the time the
  trio loop spends blocked on sockets measured. (The machine's work and the
  hop used to be told apart by a third variant; since the hop is one per case,
  that difference of two medians was mostly noise, at times negative.)

Small payloads (``max_payload=256``) and no slow readers (``slow_start`` and
``slow_drain`` left out of ``ops``): this measures the fuzzer, not the
loopback's bandwidth. A step is what ``FuzzResult.steps`` counts: one rule, or
the end-of-case ``finish``; the ceiling counts its teardown the same way.

Usage: ``python -m benchmarks throughput`` (or ``python -m benchmarks.fuzz_throughput``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import math
import pstats
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import trio
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from benchmarks.common import PYTHON, ROOT, fmt, fmt_summary, ratios, summary, table
from echofuzz.engine.campaign import Campaign
from echofuzz.engine.executor import DifferentialExecutor
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.targets import SpawnedTarget
from echofuzz.options import FuzzOptions
from echofuzz.vocabulary import OPS, Step

SMALL_OPS = frozenset(OPS) - {"slow_start", "slow_drain"}
SELECT = f"{PYTHON} -m impl.select_echo --port {{port}}"
THREADS = f"{PYTHON} {ROOT / 'tests' / 'corpus' / 'correct_threads.py'} --port {{port}}"
#: The issue's target: the fuzzer against a real server, as a fraction of the ceiling.
TARGET_FRACTION = 0.35


def small_options(examples: int, seed: int) -> FuzzOptions:
    return FuzzOptions(max_examples=examples, seed=seed, max_payload=256, ops=SMALL_OPS)


# -- the ceiling -----------------------------------------------------------------


class CeilingMachine(RuleBasedStateMachine):
    """The echo machine's rules, arguments and preconditions, with no-op bodies.

    Bookkeeping (which connections are open) is kept, so that the preconditions
    enable the same rules in the same places; nothing is drawn inside a rule and
    nothing is sent anywhere.
    """

    options: FuzzOptions = FuzzOptions()
    steps = 0
    PICK = st.integers(0, 63)

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.slow: list[str] = []
        self._serial = 0

    def _step(self) -> None:
        type(self).steps += 1

    def _enabled(self, op: str) -> bool:
        return op in self.options.ops

    def _room(self) -> bool:
        return len(self.open) + len(self.slow) < self.options.max_connections

    def _name(self) -> str:
        self._serial += 1
        return f"c{self._serial}"

    @precondition(lambda self: self._enabled("connect") and self._room())
    @rule()
    def connect(self) -> None:
        self.open.append(self._name())
        self._step()

    @precondition(lambda self: self._enabled("send") and self.open)
    @rule(pick=PICK, data=st.data())
    def send(self, pick: int, data: st.DataObject) -> None:
        self._step()

    @precondition(lambda self: self._enabled("expect") and self.open)
    @rule(pick=PICK)
    def expect(self, pick: int) -> None:
        self._step()

    @precondition(lambda self: self._enabled("half_close") and self.open)
    @rule(pick=PICK)
    def half_close(self, pick: int) -> None:
        self.open.pop(pick % len(self.open))
        self._step()

    @precondition(lambda self: self._enabled("close") and self.open)
    @rule(pick=PICK)
    def close(self, pick: int) -> None:
        self.open.pop(pick % len(self.open))
        self._step()

    @precondition(lambda self: self._enabled("reset") and (self.open or self.slow))
    @rule(pick=PICK)
    def reset(self, pick: int) -> None:
        both = self.open + self.slow
        name = both[pick % len(both)]
        (self.open if name in self.open else self.slow).remove(name)
        self._step()

    @precondition(lambda self: self._enabled("connect_reset") and self._room())
    @rule()
    def connect_reset(self) -> None:
        self._name()
        self._step()

    @precondition(lambda self: self._enabled("burst") and len(self.open) >= 2)
    @rule(data=st.data())
    def burst(self, data: st.DataObject) -> None:
        self._step()

    @precondition(
        lambda self: (
            self._enabled("slow_start")
            and self._room()
            and len(self.slow) < 2
            and self.options.max_payload >= 65536
        )
    )
    @rule(size=st.integers(0, 1023), exponent=st.integers(0, 6), seed=st.integers(0, 255))
    def slow_start(self, size: int, exponent: int, seed: int) -> None:
        self.slow.append(self._name())
        self._step()

    @precondition(lambda self: self._enabled("slow_drain") and self.slow)
    @rule(pick=PICK)
    def slow_drain(self, pick: int) -> None:
        self.open.append(self.slow.pop(pick % len(self.slow)))
        self._step()

    def teardown(self) -> None:
        self._step()  # the campaign's "finish" step


class ThreeRuleMachine(RuleBasedStateMachine):
    """Three trivial rules, as a new user writes a first stateful test of an echo server."""

    options: FuzzOptions = FuzzOptions()
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.open: list[int] = []
        self._serial = 0

    def _step(self) -> None:
        type(self).steps += 1

    @precondition(lambda self: len(self.open) < self.options.max_connections)
    @rule()
    def connect(self) -> None:
        self._serial += 1
        self.open.append(self._serial)
        self._step()

    @precondition(lambda self: self.open)
    @rule(payload=st.binary(max_size=256))
    def send(self, payload: bytes) -> None:
        self._step()

    @precondition(lambda self: self.open)
    @rule()
    def close(self) -> None:
        self.open.pop()
        self._step()

    def teardown(self) -> None:
        self._step()  # counted like the campaign's "finish" step


def run_ceiling(
    options: FuzzOptions, base: type[RuleBasedStateMachine] = CeilingMachine
) -> tuple[int, float]:
    """Steps and seconds of a no-op machine, with the campaign's own settings."""
    bound: type[Any] = type(base.__name__, (base,), {"options": options, "steps": 0})
    machine = bound if options.seed is None else hypothesis_seed(options.seed)(bound)
    settings = Campaign(SpawnedTarget("unused {port}"), options).hypothesis_settings()
    started = time.perf_counter()
    run_state_machine_as_test(machine, settings=settings)
    return bound.steps, time.perf_counter() - started


# -- campaigns, timed and instrumented through the campaign's seams ---------------


class Timing:
    """Times the fuzzing phase and the CPU time of both threads: ``around_fuzzing`` for a campaign.

    With ``meter``, also the time the trio loop spends blocked on sockets while
    a test case runs; with ``profiles``, cProfile on both threads.
    """

    def __init__(
        self, meter: IOWaitMeter | None = None, profiles: tuple[Any, Any] | None = None
    ) -> None:
        self.meter = meter
        self.profiles = profiles
        self.fuzz_s = self.main_cpu_s = self.trio_cpu_s = 0.0

    @contextlib.contextmanager
    def __call__(self, portal: TrioThread) -> Iterator[None]:
        if self.meter is not None:
            self.meter.blocked_s = 0.0
            portal.call(_add_instrument, self.meter)
        if self.profiles is not None:
            portal.call(_enable, self.profiles[1])
            self.profiles[0].enable()
        trio_before = portal.call(_thread_time)
        main_before = time.thread_time()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.fuzz_s = time.perf_counter() - started
            self.main_cpu_s = time.thread_time() - main_before
            self.trio_cpu_s = portal.call(_thread_time) - trio_before
            if self.profiles is not None:
                self.profiles[0].disable()
                portal.call(_disable, self.profiles[1])
            if self.meter is not None:
                portal.call(_remove_instrument, self.meter)


async def _thread_time() -> float:
    return time.thread_time()


async def _nothing() -> list[str]:
    return []


class NullExecutor:
    """Executes nothing: what is left is Hypothesis and the machine."""

    def __init__(self, portal: TrioThread, *args: object) -> None:
        self.portal = portal
        self.latencies: list[str] = []

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]:
        return len(steps), []

    def discard(self) -> None:
        pass


class HopExecutor(NullExecutor):
    """Makes the real executor's hops (one per test case), each to a no-op."""

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]:
        self.portal.call(_nothing)
        return len(steps), []


class IOWaitMeter(trio.abc.Instrument):
    """Time the trio loop spends blocked in epoll while a test case is executing."""

    def __init__(self) -> None:
        self.in_step = False
        self.blocked_s = 0.0
        self._since = 0.0

    def before_io_wait(self, timeout: float) -> None:
        self._since = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        if self.in_step:
            self.blocked_s += time.perf_counter() - self._since


class MeteredExecutor:
    """The real executor, telling the meter while a test case's hop is under way."""

    def __init__(self, meter: IOWaitMeter, portal: TrioThread, *args: Any) -> None:
        self.meter = meter
        self.inner = DifferentialExecutor(portal, args[0], None, args[1], args[2])
        self.latencies = self.inner.latencies

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]:
        self.meter.in_step = True
        try:
            return self.inner.execute_all(steps, stop)
        finally:
            self.meter.in_step = False

    def discard(self) -> None:
        self.inner.discard()


async def _add_instrument(instrument: trio.abc.Instrument) -> None:
    trio.lowlevel.add_instrument(instrument)


async def _remove_instrument(instrument: trio.abc.Instrument) -> None:
    trio.lowlevel.remove_instrument(instrument)


def run_campaign(command: str, options: FuzzOptions, variant: str = "real") -> dict[str, float]:
    """One timed campaign; ``variant`` is "real", "null", "hop" or "metered"."""
    meter = IOWaitMeter() if variant == "metered" else None
    timing = Timing(meter)
    kwargs: dict[str, Any] = {}
    if variant in ("null", "hop"):
        kwargs = {
            "executor": NullExecutor if variant == "null" else HopExecutor,
            "preflight": False,
        }
    elif meter is not None:
        kwargs = {"executor": functools.partial(MeteredExecutor, meter)}
    campaign = Campaign(SpawnedTarget(command), options, around_fuzzing=timing, **kwargs)
    result = campaign.run()
    if result.verdict != "pass":
        # A correct server diverged: under heavy load a deadline can pass. The run
        # did not do the same steps as the others, so it is left out (NaN).
        print(f"  throughput: left out, {command}: {result.reason}", file=sys.stderr)
        return {"steps": math.nan, "seconds": math.nan, "failed": 1.0}
    figures = {
        "steps": float(result.steps),
        "examples": float(result.examples),
        "seconds": timing.fuzz_s,
        "main_cpu_s": timing.main_cpu_s,
        "trio_cpu_s": timing.trio_cpu_s,
    }
    if meter is not None:
        figures["io_wait_s"] = meter.blocked_s
    return figures


# -- cProfile, once ---------------------------------------------------------------


async def _enable(profile: cProfile.Profile) -> None:
    profile.enable()


async def _disable(profile: cProfile.Profile) -> None:
    profile.disable()


def _cumulative(stats: pstats.Stats, filename_part: str, function: str) -> float:
    total = 0.0
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if name == function and filename_part in filename:
            total += row[3]
    return total


def profile_breakdown(examples: int, seed: int) -> dict[str, float] | None:
    """CPU shares by thread and by task, from one cProfiled run against the select server.

    None from Python 3.12 on, where cProfile (on ``sys.monitoring``) is one
    profiler for all threads at once and cannot tell the two threads apart.
    """
    if sys.version_info >= (3, 12):
        return None
    profiles = (cProfile.Profile(time.thread_time), cProfile.Profile(time.thread_time))
    campaign = Campaign(
        SpawnedTarget(SELECT), small_options(examples, seed), around_fuzzing=Timing(None, profiles)
    )
    campaign.run()
    main = pstats.Stats(profiles[0])
    trio_stats = pstats.Stats(profiles[1])
    main_total = _cumulative(main, "hypothesis", "run_state_machine_as_test")
    in_hop = _cumulative(main, "echofuzz/engine/portal.py", "call")
    loop_total = _cumulative(trio_stats, "trio/_core/_run.py", "unrolled_run")
    step = _cumulative(trio_stats, "trio/_threads.py", "run_system")
    readers = _cumulative(trio_stats, "echofuzz/engine/client.py", "_read_loop")
    oracle = _cumulative(trio_stats, "echofuzz/engine/oracle.py", "echo_socket")
    oracle += _cumulative(trio_stats, "echofuzz/engine/oracle.py", "_accept_forever")
    gather_children = _cumulative(trio_stats, "echofuzz/engine/executor.py", "run")
    return {
        "main_s": main_total,
        "main_hop_s": in_hop,
        "trio_s": loop_total,
        "trio_step_s": step + gather_children,
        "trio_readers_s": readers,
        "trio_oracle_s": oracle,
        "steps": float(campaign.steps),
    }


# -- the benchmark ----------------------------------------------------------------

VARIANTS = ("ceiling", "ceiling3", "hop", "metered", "select", "threads")
#: Test cases of the untimed warm-up runs.
WARM_UP_EXAMPLES = 10


def run(
    repeats: int = 5, examples: int = 60, seed: int = 1, profile: bool = True, log: bool = True
) -> dict[str, object]:
    options = small_options(examples, seed)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    # Warm up: Hypothesis's first run in a process pays one-time costs (imports,
    # caches) that would otherwise land on whichever variant happens to go first.
    run_ceiling(small_options(WARM_UP_EXAMPLES, seed))
    run_ceiling(small_options(WARM_UP_EXAMPLES, seed), ThreeRuleMachine)
    run_campaign(SELECT, small_options(WARM_UP_EXAMPLES, seed), "null")
    for repeat in range(repeats):
        order = list(VARIANTS[repeat % len(VARIANTS) :] + VARIANTS[: repeat % len(VARIANTS)])
        for variant in order:
            if log:
                print(
                    f"  throughput: repeat {repeat + 1}/{repeats}, {variant}",
                    file=sys.stderr,
                    flush=True,
                )
            if variant == "ceiling":
                steps, seconds = run_ceiling(options)
                runs[variant].append({"steps": float(steps), "seconds": seconds})
            elif variant == "ceiling3":
                steps, seconds = run_ceiling(options, ThreeRuleMachine)
                runs[variant].append({"steps": float(steps), "seconds": seconds})
            elif variant == "hop":
                runs[variant].append(run_campaign(SELECT, options, "hop"))
            elif variant == "metered":
                runs[variant].append(run_campaign(SELECT, options, "metered"))
            else:
                runs[variant].append(
                    run_campaign(SELECT if variant == "select" else THREADS, options)
                )
    results: dict[str, object] = {
        "repeats": repeats,
        "examples": examples,
        "seed": seed,
        "runs": runs,
    }
    if profile:
        if log:
            print("  throughput: one cProfiled run", file=sys.stderr, flush=True)
        results["profile"] = profile_breakdown(examples, seed)
    return results


def _rates(runs: list[dict[str, float]]) -> list[float]:
    return [r["steps"] / r["seconds"] for r in runs]


def _per_step_us(runs: list[dict[str, float]], key: str = "seconds") -> list[float]:
    return [1e6 * r.get(key, math.nan) / r["steps"] for r in runs]


def report(results: dict[str, object]) -> str:
    runs: dict[str, list[dict[str, float]]] = results["runs"]  # type: ignore[assignment]
    out = [
        f"### Fuzzer throughput (small payloads: max_payload=256, no slow readers)\n\n"
        f"{results['examples']} test cases, seed {results['seed']}, "
        f"{summary([r['steps'] for r in runs['select']])['median']:.0f} steps per run; "
        "median (min-max) over "
        f"{results['repeats']} repeats\n"
    ]
    ceiling = _rates(runs["ceiling"])
    # Saved results from before the three-rule ceiling have no "ceiling3" runs.
    ceiling3 = _rates(runs["ceiling3"]) if runs.get("ceiling3") else []
    rows = []
    for variant, label in (
        ("ceiling", "Hypothesis, 10 no-op rules (the ceiling)"),
        ("ceiling3", "Hypothesis, 3 trivial rules (a new user's machine)"),
        ("select", "echo machine vs impl.select_echo"),
        ("threads", "echo machine vs correct_threads.py"),
    ):
        if not runs.get(variant):
            continue
        rates = _rates(runs[variant])
        rows.append(
            [
                label,
                fmt_summary(summary(rates)),
                fmt_summary(summary(_per_step_us(runs[variant]))),
                fmt_summary(summary(ratios(rates, ceiling)), 3),
                fmt_summary(summary(ratios(rates, ceiling3)), 3) if ceiling3 else "-",
            ]
        )
    out.append(
        table(
            ["run", "steps/s", "µs/step", "fraction of 10-rule ceiling", "of 3-rule ceiling"],
            rows,
        )
    )
    select_fraction = summary(ratios(_rates(runs["select"]), ceiling))["median"]
    threads_fraction = summary(ratios(_rates(runs["threads"]), ceiling))["median"]
    out.append(
        f"\nMedian fractions of the 10-rule ceiling: select {select_fraction:.3f}, threads "
        f"{threads_fraction:.3f}."
    )
    if ceiling3:
        threads3 = summary(ratios(_rates(runs["threads"]), ceiling3))["median"]
        select3 = summary(ratios(_rates(runs["select"]), ceiling3))["median"]
        met = "met" if threads3 >= TARGET_FRACTION else "NOT met"
        out.append(
            f"Of the 3-rule ceiling: select {select3:.3f}, threads {threads3:.3f}. Target: the "
            f"threaded server at least {TARGET_FRACTION} of the 3-rule ceiling: {met}.\n"
        )
    else:
        out.append("(No 3-rule ceiling in these results: measured before it existed.)\n")
    left_out = sum(1 for variant in runs.values() for r in variant if math.isnan(r["steps"]))
    if left_out:
        out.append(f"{left_out} run(s) left out: a correct server diverged (see stderr).\n")
    out.append(breakdown_report(results))
    return "\n".join(out)


def breakdown(results: dict[str, object]) -> list[tuple[str, float, str]]:
    """(component, median µs per step, how it is measured), summing to the metered total."""
    runs: dict[str, list[dict[str, float]]] = results["runs"]  # type: ignore[assignment]

    def med(values: list[float]) -> float:
        return summary(values)["median"]

    ceiling = med(_per_step_us(runs["ceiling"]))
    hop = med(_per_step_us(runs["hop"]))
    hop_trio_cpu = med(_per_step_us(runs["hop"], "trio_cpu_s"))
    total = med(_per_step_us(runs["metered"]))
    trio_cpu = med(_per_step_us(runs["metered"], "trio_cpu_s")) - hop_trio_cpu
    io_wait = med(_per_step_us(runs["metered"], "io_wait_s"))
    parts = [
        ("Hypothesis, 10 no-op rules", ceiling, "the ceiling machine"),
        (
            "echo machine's own work and the hop into trio (one per test case)",
            hop - ceiling,
            "echo machine with an executor that hops to a no-op, minus the ceiling",
        ),
        (
            "trio thread CPU running the step: both clients, the in-process oracle, trio",
            trio_cpu,
            "thread_time of the trio thread, minus the hop run's",
        ),
        (
            "trio loop blocked on sockets during a step (the target's turn, loopback)",
            io_wait,
            "trio Instrument, before/after_io_wait while a step runs",
        ),
    ]
    accounted = sum(value for _, value, _ in parts)
    parts.append(
        (
            "rest (GIL and wake-up waits not seen as blocked, main-thread checks)",
            total - accounted,
            "the metered run's total minus the above",
        )
    )
    return parts


def breakdown_report(results: dict[str, object]) -> str:
    parts = breakdown(results)
    total = sum(value for _, value, _ in parts)
    rows = [[name, fmt(value, 0), f"{100 * value / total:.0f}%", how] for name, value, how in parts]
    rows.append(["total (metered run against impl.select_echo)", fmt(total, 0), "100%", ""])
    out = [
        "\nWhere a step's time goes (medians, µs per step; against impl.select_echo)\n",
        table(["component", "µs/step", "share", "measured as"], rows, "lrrl"),
    ]
    profile: dict[str, float] | None = results.get("profile")  # type: ignore[assignment]
    if "profile" in results and profile is None:
        out.append("\n(cProfile shares need Python 3.11 or older: one profiler per thread.)")
    if profile:
        trio_total = profile["trio_s"] or 1.0
        main_total = profile["main_s"] or 1.0
        other = trio_total - profile["trio_step_s"] - profile["trio_readers_s"]
        other -= profile["trio_oracle_s"]
        rows = [
            [
                "main: CPU inside the hop (portal.call, from_thread.run)",
                f"{100 * profile['main_hop_s'] / main_total:.0f}% of main",
            ],
            [
                "main: Hypothesis engine and the machine",
                f"{100 * (1 - profile['main_hop_s'] / main_total):.0f}% of main",
            ],
            [
                "trio: the steps' own coroutines (opens, sends, settles, closes)",
                f"{100 * profile['trio_step_s'] / trio_total:.0f}% of trio",
            ],
            [
                "trio: client reader tasks",
                f"{100 * profile['trio_readers_s'] / trio_total:.0f}% of trio",
            ],
            [
                "trio: the oracle server's tasks",
                f"{100 * profile['trio_oracle_s'] / trio_total:.0f}% of trio",
            ],
            ["trio: scheduler and the rest", f"{100 * other / trio_total:.0f}% of trio"],
        ]
        out.append(
            "\ncProfile, one run against impl.select_echo (CPU time per thread, waits "
            "excluded; cProfile slows Python code several-fold, so read shares, not times)\n"
        )
        out.append(table(["where", "share"], rows, "lr"))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    print(report(run(args.repeats, args.examples, args.seed, not args.no_profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
