"""Time to find: for each broken server of the test corpus, how fast the fuzzer finds its bug.

Prints one row per server: the verdict, the test cases and seconds until the
first failing test case, the total time (shrinking included) and the length of
the shrunk reproduction. With ``--clean`` the correct servers appear too: their
row is the cost of a clean run. Usage:
``python -m benchmarks.time_to_find [--examples N] [--clean] [NAME ...]`` (or
``python -m benchmarks time_to_find``).

Seconds to the first failure count from the campaign's start, server start-up
included, as a user waiting for ``echofuzz`` sees them. One seed per server
(``--seed``): a single draw, not a distribution. Shrinking gets at most
``--shrink-seconds`` (20 by default, where ``echofuzz`` allows 60) to keep the
whole benchmark run short; a reproduction may be longer than with more time.
The campaign stops at its first finding (``max_bugs=1``; ``echofuzz`` goes on
to look for up to 10 distinct ones), since that is what is measured here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import PYTHON, corpus_servers, declared, fmt, summary, table
from echofuzz.engine.campaign import Campaign
from echofuzz.engine.targets import SpawnedTarget
from echofuzz.options import FuzzOptions

#: The issue's target for the median seconds to the first failure.
TARGET_MEDIAN_S = 1.0


def broken_servers() -> list[str]:
    """The corpus servers whose bug the fuzzer must catch."""
    return [p.stem for p in corpus_servers() if declared(p, "EXPECTED") == "caught"]


def run(
    examples: int = 100,
    seed: int = 0,
    deadline: float = 1.0,
    names: list[str] | None = None,
    shrink_seconds: float = 20.0,
    log: bool = True,
) -> dict[str, object]:
    servers: list[Path] = corpus_servers()
    if names:
        servers = [p for p in servers if p.stem in names]
    rows: list[dict[str, object]] = []
    for path in servers:
        if log:
            print(f"  time to find: {path.stem}", file=sys.stderr, flush=True)
        options = FuzzOptions(
            max_examples=examples,
            seed=seed,
            deadline=deadline,
            max_payload=1 << 20,
            shrink_time=shrink_seconds,
            max_bugs=1,
        )
        started = time.monotonic()
        result = Campaign(SpawnedTarget(f"{PYTHON} {path} --port {{port}}"), options).run()
        rows.append(
            {
                "server": path.stem,
                "expected": declared(path, "EXPECTED"),
                "verdict": result.verdict,
                "cases": result.first_failure_example,
                "find_s": result.first_failure_s,
                "total_s": time.monotonic() - started,
                "steps": len(result.reproduction) if result.reproduction else None,
                "history_dependent": result.history_dependent,
                "reason": result.reason or "",
            }
        )
    return {
        "examples": examples,
        "seed": seed,
        "deadline": deadline,
        "shrink_seconds": shrink_seconds,
        "rows": rows,
    }


def report(results: dict[str, object]) -> str:
    rows: list[dict[str, object]] = results["rows"]  # type: ignore[assignment]
    lines = []
    for row in rows:
        reason = str(row["reason"])[:60]
        if row["history_dependent"]:
            reason = "[after earlier cases] " + reason
        verdict = str(row["verdict"])
        if (row["expected"] == "caught") != (verdict == "fail"):
            verdict += " (unexpected)"
        find = row["find_s"]
        lines.append(
            [
                str(row["server"]),
                str(row["expected"]),
                verdict,
                "-" if row["cases"] is None else str(row["cases"]),
                "-" if find is None else f"{find:.2f}",
                f"{row['total_s']:.1f}",
                "-" if row["steps"] is None else str(row["steps"]),
                reason.replace("|", "/"),
            ]
        )
    out = [
        f"### Time to find (corpus; {results['examples']} test cases at most, seed "
        f"{results['seed']}, max_payload 1 MiB, all operations, shrinking for at most "
        f"{results.get('shrink_seconds', 60):g} s)\n",
        table(
            ["server", "expect", "verdict", "cases", "find s", "total s", "steps", "reason"],
            lines,
            "lllrrrrl",
        ),
    ]
    caught = [
        float(row["find_s"])  # type: ignore[arg-type]
        for row in rows
        if row["expected"] == "caught" and row["find_s"] is not None
    ]
    missed = [
        str(row["server"]) for row in rows if row["expected"] == "caught" and row["find_s"] is None
    ]
    if caught:
        s = summary(caught)
        cases = [
            int(row["cases"])  # type: ignore[call-overload]
            for row in rows
            if row["expected"] == "caught" and row["cases"] is not None
        ]
        steps = [
            int(row["steps"])  # type: ignore[call-overload]
            for row in rows
            if row["expected"] == "caught" and row["steps"] is not None
        ]
        verdict = "met" if s["median"] <= TARGET_MEDIAN_S else "NOT met"
        out.append(
            f"\nSeconds to the first failure over {len(caught)} broken servers: min "
            f"{fmt(s['min'], 2)}, median {fmt(s['median'], 2)}, max {fmt(s['max'], 2)} "
            f"(target: median <= {TARGET_MEDIAN_S:g} s: {verdict}). Test cases to the first "
            f"failure: median {statistics.median(cases):g}"
            + (
                f"; shrunk reproduction: median {statistics.median(steps):g} steps, "
                f"max {max(steps)}."
                if steps
                else "."
            )
        )
    if missed:
        out.append(f"\nNot caught: {', '.join(missed)}.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpus servers (default: all)")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--shrink-seconds", type=float, default=20.0)
    parser.add_argument("--clean", action="store_true", help="also the correct servers")
    args = parser.parse_args(argv)
    names = args.names or (None if args.clean else broken_servers())
    print(report(run(args.examples, args.seed, args.deadline, names, args.shrink_seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
