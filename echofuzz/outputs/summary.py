"""The printed summary of a run: the verdict, its reason, the numbered steps, where outputs went.

The command line prints it on stdout; the pytest plugin makes it the failure
report of its test item (or a report section when it passes).
"""

from __future__ import annotations

import io
import shlex
from pathlib import Path
from typing import TextIO

from echofuzz.outputs.steps_text import SHOWN_LINES, write_lines
from echofuzz.result import FuzzResult
from echofuzz.vocabulary import Step

PROG = "echofuzz"
#: Lines printed in full; longer (history-dependent) reproductions are elided in the middle.
SHOWN_STEPS = SHOWN_LINES


def print_steps(steps: list[Step], out: TextIO) -> None:
    """Numbered steps; repeated runs folded into one line, and a long listing elided."""
    write_lines(steps, out)


def describe_counts(result: FuzzResult) -> str:
    return (
        f"{result.examples} test case{'s' if result.examples != 1 else ''} "
        f"({result.steps} steps) in {result.elapsed_s:.1f} s"
    )


def format_summary(
    result: FuzzResult, repro: Path | None, report: Path | None, rerun: str | None
) -> str:
    """The verdict, the reason, the steps and where the outputs went, as printed on stdout."""
    out = io.StringIO()
    seed = f"seed {result.seed}"
    if result.verdict == "pass":
        out.write(f"{PROG}: no divergence: {describe_counts(result)}, {seed}\n")
    elif result.verdict == "interrupted":
        out.write(f"{PROG}: interrupted after {describe_counts(result)}, {seed}\n")
    else:
        kind = "divergence that depends on history" if result.history_dependent else "divergence"
        first = (
            f", first seen after {result.first_failure_s:.1f} s"
            if result.first_failure_s is not None
            else ""
        )
        out.write(f"{PROG}: {kind.upper()} after {describe_counts(result)}{first}, {seed}\n")
    if result.reason:
        out.write(f"  {result.reason}\n")
    for note in result.notes:
        out.write(f"  note: {note}\n")
    steps = result.reproduction
    if steps:
        if result.verdict == "interrupted":
            title = f"failing sequence as found, not minimal ({len(steps)} steps)"
        elif result.history_dependent:
            cases = sum(step.op == "finish" for step in steps) + (steps[-1].op != "finish")
            how = {True: "reproduced it", False: "did NOT reproduce it", None: "was not tried"}
            title = (
                f"history ({len(steps)} steps in {cases} test cases; replaying it on a fresh "
                f"server {how[result.reproduced]})"
            )
        else:
            title = f"minimal reproduction ({len(steps)} step{'s' if len(steps) != 1 else ''})"
        out.write(f"\n{title}:\n")
        print_steps(steps, out)
    if repro is not None:
        out.write(
            f"\nreproduction script: {repro}\n"
            f"  start a fresh server, then: python {shlex.quote(str(repro))} HOST:PORT"
            f"   (exit 1: reproduced, 0: not)\n"
        )
    if report is not None:
        out.write(f"report: {report}\n")
    if rerun is not None:
        out.write(f"rerun: {rerun}\n")
    return out.getvalue()
