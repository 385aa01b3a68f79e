"""Suite cost: the wall time of the test suite, and where it goes, per test module.

Runs the suite once, the way a developer does in the edit-run loop::

    python -m pytest -q -p no:randomly --durations=0 --durations-min=0

with ``HYPOTHESIS_PROFILE=dev`` (tox's default; ``--profile`` to change it),
then adds up each test's setup, call and teardown per module. The difference
between the wall time and the sum over modules is collection, imports and
pytest itself. ``tox -e py311`` costs more than this: it also builds or reuses
its virtualenv and installs the project first.

Usage: ``python -m benchmarks suite`` (or ``python -m benchmarks.suite_cost``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

from benchmarks.common import PYTHON, ROOT, fmt, table

#: The suite must finish within this, or it is stopped and reported as such.
SUITE_TIMEOUT = 1800.0
DURATION = re.compile(
    r"^\s*(?P<seconds>\d+(?:\.\d+)?)s\s+(?P<phase>setup|call|teardown)\s+(?P<id>\S.*)$"
)
SUMMARY = re.compile(r"^=*\s*(?P<text>(?:\d+ \w+(?:, )?)+) in (?P<seconds>[\d.]+)s")


def parse_durations(output: str) -> dict[str, dict[str, float]]:
    """{module: {"setup": s, "call": s, "teardown": s, "tests": n}} from --durations output."""
    modules: dict[str, dict[str, float]] = defaultdict(
        lambda: {"setup": 0.0, "call": 0.0, "teardown": 0.0, "tests": 0.0}
    )
    in_section = False
    for line in output.splitlines():
        if "slowest" in line and "durations" in line:
            in_section = True
            continue
        if not in_section:
            continue
        match = DURATION.match(line)
        if match is None:
            continue
        module = match["id"].split("::", 1)[0]
        modules[module][match["phase"]] += float(match["seconds"])
        if match["phase"] == "call":
            modules[module]["tests"] += 1
    return dict(modules)


def run(
    profile: str = "dev", extra: list[str] | None = None, log: bool = True
) -> dict[str, object]:
    argv = [
        PYTHON,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "--durations=0",
        "--durations-min=0",
        *(extra or []),
    ]
    env = {**os.environ, "HYPOTHESIS_PROFILE": profile}
    if log:
        print(f"  suite: {' '.join(argv[1:])} (HYPOTHESIS_PROFILE={profile})", file=sys.stderr)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT,
            check=False,
        )
        output, status = done.stdout, done.returncode
    except subprocess.TimeoutExpired as expired:
        raw = expired.stdout or b""
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        status = -1
    wall = time.perf_counter() - started
    failed = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("FAILED ")]
    outcome = ""
    for line in output.splitlines():
        match = SUMMARY.match(line.strip())
        if match:
            outcome = f"{match['text']} in {match['seconds']}s"
    return {
        "profile": profile,
        "command": " ".join(["pytest", *argv[3:]]),
        "wall_s": wall,
        "exit_status": status,
        "outcome": outcome or ("timed out" if status == -1 else "no summary line"),
        "modules": parse_durations(output),
        "failed": failed,
    }


#: Modules that took less than this are added up in one row.
SHOWN_MIN_S = 0.05


def module_seconds(times: dict[str, float]) -> float:
    return times["setup"] + times["call"] + times["teardown"]


def report(results: dict[str, object]) -> str:
    modules: dict[str, dict[str, float]] = results["modules"]  # type: ignore[assignment]
    wall = float(results["wall_s"])  # type: ignore[arg-type]
    ordered = sorted(modules.items(), key=lambda item: -module_seconds(item[1]))
    rows = []
    total = small = 0.0
    small_modules = small_tests = 0
    for module, times in ordered:
        seconds = module_seconds(times)
        total += seconds
        if seconds < SHOWN_MIN_S:
            small += seconds
            small_modules += 1
            small_tests += int(times["tests"])
            continue
        share = f"{100 * seconds / wall:.0f}%"
        rows.append([module, str(int(times["tests"])), fmt(seconds, 1), share])
    if small_modules:
        rows.append(
            [
                f"{small_modules} more modules under {SHOWN_MIN_S} s each (doctests mostly)",
                str(small_tests),
                fmt(small, 1),
                f"{100 * small / wall:.0f}%",
            ]
        )
    rest = wall - total
    rows.append(
        ["collection, imports, pytest itself", "", fmt(rest, 1), f"{100 * rest / wall:.0f}%"]
    )
    tests = sum(int(times["tests"]) for times in modules.values())
    rows.append(["**wall time**", str(tests), fmt(wall, 1), "100%"])
    failed: list[str] = results.get("failed", [])  # type: ignore[assignment]
    notes = "".join(f"\n- failed: {name}" for name in failed)
    return (
        f"### Suite cost: `{results['command']}`, HYPOTHESIS_PROFILE={results['profile']}\n\n"
        f"One run: {results['outcome']} (exit status {results['exit_status']}). "
        "Seconds are setup + call + teardown of each module's tests."
        + (f"\n{notes}" if notes else "")
        + "\n\n"
        + table(["module", "tests", "seconds", "share"], rows)
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="dev", help="HYPOTHESIS_PROFILE for the suite")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)
    print(report(run(args.profile, args.pytest_args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
