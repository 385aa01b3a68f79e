"""Usage errors: how fast ``python -m echofuzz`` answers a bad invocation.

Each bad invocation below runs as a subprocess, as a user types it, ``--repeats``
times, in rotated order; its wall time (interpreter start-up included) and its
exit status (2 expected) are kept. Two floors are measured in the same run:
``python -c pass`` (the interpreter's start-up, nothing of ours) and
``python -c "import trio, hypothesis"`` (what the CLI avoids by parsing its
arguments before importing the engine).

Usage: ``python -m benchmarks usage_errors`` (or
``python -m benchmarks.usage_errors [--repeats N]``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks.common import PYTHON, ROOT, fmt, fmt_summary, ratios, summary, table

#: The issue's target: a usage error answered within this, in seconds.
TARGET_S = 0.5
#: One invocation must finish within this.
RUN_TIMEOUT = 30.0
CASES: tuple[tuple[str, list[str], int | None], ...] = (
    (
        "--max-examples 0 127.0.0.1:7000",
        ["-m", "echofuzz", "--max-examples", "0", "127.0.0.1:7000"],
        2,
    ),
    ("--ops fly 127.0.0.1:7000", ["-m", "echofuzz", "--ops", "fly", "127.0.0.1:7000"], 2),
    ("(no target)", ["-m", "echofuzz"], 2),
    (
        "--max-payload 4G 127.0.0.1:7000",
        ["-m", "echofuzz", "--max-payload", "4G", "127.0.0.1:7000"],
        2,
    ),
)
FLOORS: tuple[tuple[str, list[str], int | None], ...] = (
    ("floor: python -c pass", ["-c", "pass"], 0),
    ("reference: python -c 'import trio, hypothesis'", ["-c", "import trio, hypothesis"], 0),
)


def time_one(args: list[str]) -> tuple[float, int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [PYTHON, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        status, said = done.returncode, (done.stderr or done.stdout).strip()
    except subprocess.TimeoutExpired:
        status, said = -1, "timed out"
    return time.perf_counter() - started, status, said.splitlines()[-1] if said else ""


def run(repeats: int = 10, log: bool = True) -> dict[str, object]:
    everything = CASES + FLOORS
    runs: dict[str, dict[str, list[object]]] = {
        label: {"seconds": [], "status": [], "said": []} for label, _, _ in everything
    }
    # Warm-up: the first start after an edit compiles and caches bytecode.
    for _, args, _ in everything:
        time_one(args)
    for repeat in range(repeats):
        if log:
            print(f"  usage errors: repeat {repeat + 1}/{repeats}", file=sys.stderr, flush=True)
        shift = repeat % len(everything)
        for label, args, _ in everything[shift:] + everything[:shift]:
            seconds, status, said = time_one(args)
            runs[label]["seconds"].append(seconds)
            runs[label]["status"].append(status)
            runs[label]["said"].append(said)
    expected = {label: status for label, _, status in everything}
    return {"repeats": repeats, "runs": runs, "expected": expected}


def report(results: dict[str, object]) -> str:
    runs: dict[str, dict[str, list[object]]] = results["runs"]  # type: ignore[assignment]
    expected: dict[str, int] = results["expected"]  # type: ignore[assignment]
    floor = [float(s) for s in runs[FLOORS[0][0]]["seconds"]]  # type: ignore[arg-type]
    rows = []
    worst = 0.0
    wrong: list[str] = []
    for label, figures in runs.items():
        seconds = [float(s) for s in figures["seconds"]]  # type: ignore[arg-type]
        statuses = sorted({int(s) for s in figures["status"]})  # type: ignore[call-overload]
        s = summary(seconds)
        if label in {c[0] for c in CASES}:
            worst = max(worst, s["median"])
        if any(status != expected[label] for status in statuses):
            wrong.append(f"{label}: exit status {statuses}, expected {expected[label]}")
        over = ratios(seconds, floor) if label != FLOORS[0][0] else []
        said = str(figures["said"][0])[:70].replace("|", "/")
        rows.append(
            [
                label,
                fmt_summary(s, 3),
                fmt_summary(summary(over), 2) if over else "1",
                ", ".join(map(str, statuses)),
                said,
            ]
        )
    met = "met" if worst <= TARGET_S and not wrong else "NOT met"
    out = [
        f"### Usage errors: `python -m echofuzz ...` as a subprocess, {results['repeats']} "
        "repeats each, median (min-max)\n",
        table(["invocation", "wall s", "x python -c pass", "exit", "said"], rows, "lrrrl"),
        f"\nTarget: every usage error's median under {TARGET_S:g} s with exit status 2: slowest "
        f"median {fmt(worst, 3)} s: {met}.",
    ]
    out += [f"- {line}" for line in wrong]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    print(report(run(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
