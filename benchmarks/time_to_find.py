"""Time to find: for each server of the test corpus, how fast the fuzzer finds its bug.

Prints one row per server: the verdict, the test cases and seconds until the
first failing test case, the total time (shrinking included) and the length of
the shrunk reproduction. Correct servers appear too: their row is the cost of a
clean run. Usage: ``python -m benchmarks.time_to_find [--examples N] [NAME ...]``.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

from spec.echo.fuzzer import Campaign, FuzzOptions
from spec.echo.targets import SpawnedTarget

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def declared(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpus servers (default: all)")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=1.0)
    args = parser.parse_args(argv)
    servers = sorted(p for p in CORPUS.glob("*.py") if p.name != "server_cli.py")
    if args.names:
        servers = [p for p in servers if p.stem in args.names]
    header = (
        f"{'server':52} {'expect':6} {'verdict':7} {'cases':>5} {'find s':>7} "
        f"{'total s':>7} {'steps':>5}  reason"
    )
    print(header)
    print("-" * len(header))
    found = []
    for path in servers:
        options = FuzzOptions(
            max_examples=args.examples, seed=args.seed, deadline=args.deadline, max_payload=1 << 20
        )
        started = time.monotonic()
        result = Campaign(SpawnedTarget(f"{sys.executable} {path} --port {{port}}"), options).run()
        total = time.monotonic() - started
        cases = result.first_failure_example if result.first_failure_example is not None else "-"
        find = f"{result.first_failure_s:.2f}" if result.first_failure_s is not None else "-"
        steps = len(result.reproduction) if result.reproduction else "-"
        reason = (result.reason or "")[:70]
        if result.history_dependent:
            reason = "[after earlier cases] " + reason
        print(
            f"{path.stem:52} {declared(path, 'EXPECTED')!s:6} {result.verdict:7} {cases!s:>5} "
            f"{find:>7} {total:7.1f} {steps!s:>5}  {reason}",
            flush=True,
        )
        if result.first_failure_s is not None:
            found.append(result.first_failure_s)
    if found:
        print(
            f"\nseconds to first failure over {len(found)} caught servers: "
            f"min {min(found):.2f}  median {statistics.median(found):.2f}  max {max(found):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
