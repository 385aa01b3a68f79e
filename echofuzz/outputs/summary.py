"""The printed summary of a run: the verdict, its reason, the numbered steps, where outputs went.

The command line prints it on stdout; the pytest plugin makes it the failure
report of its test item (or a report section when it passes).
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from echofuzz.outputs.steps_text import SHOWN_LINES, write_lines
from echofuzz.result import CLAIMS, FuzzResult
from echofuzz.vocabulary import Step

PROG = "echofuzz"
#: Lines printed in full; longer (history-dependent) reproductions are elided in the middle.
SHOWN_STEPS = SHOWN_LINES
#: Latencies printed (the report has them all).
SHOWN_LATENCIES = 5


def print_steps(steps: list[Step], out: TextIO) -> None:
    """Numbered steps; repeated runs folded into one line, and a long listing elided."""
    write_lines(steps, out)


def describe_counts(result: FuzzResult) -> str:
    return (
        f"{result.examples} test case{'s' if result.examples != 1 else ''} "
        f"({result.steps} steps) in {result.elapsed_s:.1f} s"
    )


def steps_title(
    steps: list[Step], verdict: str, needs_history: bool, reproduced: bool | None
) -> str:
    if verdict == "interrupted":
        return f"failing sequence as found, not minimal ({len(steps)} steps)"
    if verdict == "lost":
        return f"the test case it went away in, as run, not minimal ({len(steps)} steps)"
    if needs_history:
        cases = sum(step.op == "finish" for step in steps) + (steps[-1].op != "finish")
        how = {True: "reproduced it", False: "did NOT reproduce it", None: "was not tried"}
        return (
            f"history ({len(steps)} steps in {cases} test cases; replaying it on a fresh "
            f"server {how[reproduced]})"
        )
    return f"minimal reproduction ({len(steps)} step{'s' if len(steps) != 1 else ''})"


def script_lines(repro: Path) -> str:
    return (
        f"\nreproduction script: {repro}\n"
        f"  start a fresh server, then: python {shlex.quote(str(repro))} HOST:PORT"
        f"   (exit 1: reproduced, 0: not)\n"
    )


def format_summary(
    result: FuzzResult,
    repros: Sequence[Path | None],
    report: Path | None,
    rerun: str | None,
) -> str:
    """The verdict, each bug's reason and steps, and where the outputs went, as printed.

    ``repros`` are the reproduction scripts written, one per bug, the first bug's first.
    """
    out = io.StringIO()
    seed = f"seed {result.seed}"
    bugs = len(result.bugs)
    if result.verdict == "pass":
        out.write(f"{PROG}: no divergence: {describe_counts(result)}, {seed}\n")
    elif result.verdict == "interrupted":
        out.write(f"{PROG}: interrupted after {describe_counts(result)}, {seed}\n")
    elif result.verdict == "lost":
        out.write(f"{PROG}: TARGET LOST after {describe_counts(result)}, {seed}\n")
    else:
        kind = "divergence that depends on history" if result.history_dependent else "divergence"
        if bugs > 1:
            kind = f"{bugs} distinct divergences" + (
                " (the first depends on history)" if result.history_dependent else ""
            )
        first = (
            f", first seen after {result.first_failure_s:.1f} s"
            if result.first_failure_s is not None
            else ""
        )
        out.write(f"{PROG}: {kind.upper()} after {describe_counts(result)}{first}, {seed}\n")
    if bugs > 1:
        out.write(f"\nbug 1 of {bugs} ({CLAIMS[result.bugs[0].claim].split(':')[0]}):\n")
    if result.reason:
        out.write(f"  {result.reason}\n")
    for note in result.notes:
        out.write(f"  note: {note}\n")
    steps = result.reproduction
    if steps:
        title = steps_title(steps, result.verdict, result.history_dependent, result.reproduced)
        out.write(f"\n{title}:\n")
        print_steps(steps, out)
    if repros and repros[0] is not None:
        out.write(script_lines(repros[0]))
    for number, finding in enumerate(result.bugs[1:], 2):
        claim = CLAIMS[finding.claim].split(":")[0]
        out.write(f"\nbug {number} of {bugs} ({claim}), first seen after ")
        out.write(f"{finding.first_seen_s:.1f} s, met in {finding.hits} test case(s):\n")
        out.write(f"  {finding.reason}\n")
        for note in finding.notes:
            out.write(f"  note: {note}\n")
        title = steps_title(finding.reproduction, "fail", finding.needs_history, True)
        out.write(f"\n{title}:\n")
        print_steps(finding.reproduction, out)
        repro = repros[number - 1] if number - 1 < len(repros) else None
        if repro is not None:
            out.write(script_lines(repro))
    if result.unconfirmed:
        out.write("\n")
    for finding in result.unconfirmed:
        out.write(
            f"warning: unconfirmed ({len(finding.reproduction)} steps, in the report): "
            f"{finding.reason}: seen {finding.hits} time(s), never again on confirmation\n"
        )
    if result.latencies:
        out.write(f"\nslow, but not wrong ({result.latency_count} waits outlasted the deadline):\n")
        for line in result.latencies[:SHOWN_LATENCIES]:
            out.write(f"  latency: {line}\n")
    if report is not None:
        out.write(f"report: {report}\n")
    if rerun is not None:
        out.write(f"rerun: {rerun}\n")
    return out.getvalue()
