"""Run the benchmarks, print their tables, save their figures and draw ``results.png``.

    python -m benchmarks                      # everything (well over an hour: suite_wall)
    python -m benchmarks servers throughput   # a subset, by name
    python -m benchmarks --quick              # fewer repeats: a smoke run of a few minutes

Names: ``throughput`` (fuzzer steps per second against the Hypothesis
ceilings), ``time_to_find`` (the broken corpus servers), ``suite`` (the test
suite's wall time per module), ``servers`` (the reference servers against
asyncio, uvloop and trio), ``default_run`` (a default ``echofuzz`` run per
correct server), ``usage_errors`` (how fast a bad invocation is answered) and
``suite_wall`` (``tox -e ENV`` per environment: slow, the whole suite once per
interpreter). ``tox -e bench -- NAME ...`` passes names through.

Each benchmark's figures are saved in ``benchmarks/results.json`` under its
name, replacing that benchmark's previous figures only; the plot is drawn from
that file, so running a subset redraws its panels and keeps the others (each
panel's title says when it was measured). Progress goes to stderr, tables to
stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    default_run,
    false_alarms,
    fuzz_throughput,
    servers,
    suite_cost,
    suite_wall,
    time_to_find,
    usage_errors,
)
from benchmarks.common import machine_note, now_stamp

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PLOT = HERE / "results.png"
NAMES = (
    "throughput",
    "time_to_find",
    "suite",
    "servers",
    "default_run",
    "usage_errors",
    "suite_wall",
    "false_alarms",
)


def runners(args: argparse.Namespace) -> dict[str, tuple[Callable[[], Any], Callable[[Any], str]]]:
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    return {
        "throughput": (
            lambda: fuzz_throughput.run(
                repeats=repeats, examples=30 if quick else 60, seed=1, profile=not quick
            ),
            fuzz_throughput.report,
        ),
        "time_to_find": (
            lambda: time_to_find.run(
                examples=100,
                seed=0,
                names=time_to_find.broken_servers() if not args.clean else None,
                shrink_seconds=5.0 if quick else 20.0,
            ),
            time_to_find.report,
        ),
        "suite": (
            lambda: suite_cost.run(
                profile="dev", extra=["tests/test_loop_spec.py"] if quick else None
            ),
            suite_cost.report,
        ),
        "servers": (
            lambda: servers.run(repeats=repeats, seconds=0.1 if quick else 0.15),
            servers.report,
        ),
        "default_run": (
            lambda: default_run.run(seeds=1 if quick else 3),
            default_run.report,
        ),
        "usage_errors": (
            lambda: usage_errors.run(repeats=args.repeats or (3 if quick else 10)),
            usage_errors.report,
        ),
        # --quick: the tox machinery on one short module per interpreter, not the suite.
        "suite_wall": (
            lambda: suite_wall.run(posargs=["tests/test_loop_spec.py"] if quick else None),
            suite_wall.report,
        ),
        # Correct and third-party servers with both cores kept busy: verdicts, not speed.
        "false_alarms": (
            lambda: false_alarms.run(seeds=[1] if quick else [1, 2, 3], quick=quick),
            false_alarms.report,
        ),
    }


def load() -> dict[str, Any]:
    try:
        saved = json.loads(RESULTS.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return saved if isinstance(saved, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats and examples")
    parser.add_argument("--repeats", type=int, default=0, help="repeats per figure (default 5)")
    parser.add_argument(
        "--clean", action="store_true", help="time_to_find: also run the correct corpus servers"
    )
    parser.add_argument("--no-plot", action="store_true", help="do not redraw results.png")
    parser.add_argument("--no-save", action="store_true", help="do not update results.json")
    parser.add_argument(
        "--plot-only", action="store_true", help="run nothing; redraw results.png from results.json"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    chosen = [] if args.plot_only else args.names or list(NAMES)
    table = runners(args)
    saved = load()
    started = time.monotonic()
    print(f"Benchmarks, {now_stamp()}: {machine_note()}\n", flush=True)
    for name in chosen:
        run, report = table[name]
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.monotonic()
        results = run()
        took = time.monotonic() - began
        saved[name] = {
            "when": now_stamp(),
            "seconds": took,
            "quick": args.quick,
            "machine": machine_note(),
            "results": results,
        }
        print(report(results), flush=True)
        print(f"({name} took {took:.0f} s)\n", flush=True)
        if not args.no_save:
            RESULTS.write_text(json.dumps(saved, indent=1, default=str) + "\n")
    if not args.no_plot:
        from benchmarks import plot  # matplotlib only when drawing

        plot.draw(saved, PLOT)
        print(f"plot: {PLOT.relative_to(HERE.parent)}", flush=True)
    print(f"all benchmarks took {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
