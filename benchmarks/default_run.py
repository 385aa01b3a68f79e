"""Default run: the wall time of ``python -m echofuzz --spawn CMD --seed S``, all defaults.

Runs the command as a user does, as a subprocess, against each of the correct
servers the issue names (``impl.select_echo``, ``tests/corpus/correct_threads.py``
and ``tests/corpus/correct_trio.py``), once per seed, the servers in rotated
order from one seed to the next. The wall time counts everything the user
waits for: interpreter start-up, imports, the server's start-up, the
pre-flight check, 100 test cases of every operation, and the shutdown. The exit
status (0 expected: the servers are correct) and the test-case and step counts
the summary line prints are kept with each run.

The repository root is the working directory and ``PYTHONPATH`` (``impl`` is
not installed). Usage: ``python -m benchmarks default_run`` (or
``python -m benchmarks.default_run [--seeds N]``).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time

from benchmarks.common import PYTHON, ROOT, fmt, fmt_summary, summary, table

#: The issue's target: a default run against a correct server, in seconds.
TARGET_S = 10.0
#: A run that takes longer than this is stopped and reported as such.
RUN_TIMEOUT = 300.0
SERVERS = (
    ("impl.select_echo", [PYTHON, "-m", "impl.select_echo", "--port", "{port}"]),
    (
        "correct_threads.py",
        [PYTHON, "tests/corpus/correct_threads.py", "--port", "{port}"],
    ),
    ("correct_trio.py", [PYTHON, "tests/corpus/correct_trio.py", "--port", "{port}"]),
)
COUNTS = re.compile(r"(?P<cases>\d+) test cases? \((?P<steps>\d+) steps?\)")


def one_run(argv: list[str]) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYPOTHESIS_PROFILE", None)  # the CLI's own settings, as a user gets them
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        status, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        status, output = -1, "timed out"
    wall = time.perf_counter() - started
    match = COUNTS.search(output)
    last = output.strip().splitlines()[-1:] or [""]
    return {
        "wall_s": wall,
        "exit_status": status,
        "cases": int(match["cases"]) if match else None,
        "steps": int(match["steps"]) if match else None,
        "summary": next(
            (line for line in output.splitlines() if "test case" in line), last[0]
        ).strip(),
    }


def run(seeds: int = 3, log: bool = True) -> dict[str, object]:
    runs: dict[str, list[dict[str, object]]] = {name: [] for name, _ in SERVERS}
    for index in range(seeds):
        seed = index + 1
        order = list(SERVERS[index % len(SERVERS) :] + SERVERS[: index % len(SERVERS)])
        for name, command in order:
            spawn = shlex.join(command)
            argv = [PYTHON, "-m", "echofuzz", "--spawn", spawn, "--seed", str(seed)]
            if log:
                print(f"  default run: {name}, seed {seed}", file=sys.stderr, flush=True)
            figures = one_run(argv)
            figures["seed"] = seed
            runs[name].append(figures)
    return {"seeds": seeds, "runs": runs}


def report(results: dict[str, object]) -> str:
    runs: dict[str, list[dict[str, object]]] = results["runs"]  # type: ignore[assignment]
    rows = []
    medians = []
    bad: list[str] = []
    for name, each in runs.items():
        walls = [float(r["wall_s"]) for r in each if r["exit_status"] == 0]  # type: ignore[arg-type]
        s = summary(walls)
        medians.append(s["median"])
        statuses = sorted({int(r["exit_status"]) for r in each})  # type: ignore[call-overload]
        cases = [str(r["cases"]) if r["cases"] is not None else "-" for r in each]
        steps = [str(r["steps"]) if r["steps"] is not None else "-" for r in each]
        rows.append(
            [
                name,
                fmt_summary(s, 1),
                ", ".join(map(str, statuses)),
                " / ".join(cases),
                " / ".join(steps),
            ]
        )
        bad += [
            f"{name}, seed {r['seed']}: exit status {r['exit_status']}: {r['summary']}"
            for r in each
            if r["exit_status"] != 0
        ]
    worst = max((m for m in medians if m == m), default=float("nan"))
    met = "met" if worst == worst and worst <= TARGET_S and not bad else "NOT met"
    out = [
        f"### Default run: `python -m echofuzz --spawn CMD --seed S`, all defaults, "
        f"seeds 1-{results['seeds']}\n",
        "Wall time of the whole command, as a subprocess, median (min-max) over the seeds; "
        "test cases and steps as printed, one per seed.\n",
        table(
            ["server", "wall s", "exit status", "test cases", "steps"],
            rows,
            "lrrrr",
        ),
        f"\nTarget: every server's median at most {TARGET_S:g} s, exit status 0: "
        f"slowest median {fmt(worst, 1)} s: {met}.",
    ]
    out += [f"- {line}" for line in bad]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    args = parser.parse_args(argv)
    print(report(run(args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
