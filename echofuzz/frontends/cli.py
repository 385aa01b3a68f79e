"""``echofuzz``: differential fuzzing of anyone's TCP echo server, from the command line.

Usage::

    echofuzz 127.0.0.1:7000                       # a server that is already running
    echofuzz --spawn "python my_server.py {port}"  # echofuzz starts (and restarts) it

The exit status is the whole interface for scripts and CI:

- 0: no divergence from the oracle;
- 1: a divergence (the minimal sequence is printed, a reproduction script written);
- 2: a usage error, or a target that cannot be reached, started, or does not
  echo at all -- always one line on stderr, ``echofuzz: error: ...``;
- 130: interrupted by Ctrl-C (143 by SIGTERM, 129 by SIGHUP); whatever was found
  so far is still printed and reported;
- 3: a bug in echofuzz itself (the only case with a traceback).

A server that echoes nothing (a greeting and a close, an HTTP server) fails the
pre-flight check and gets exit 2, because it is the wrong target rather than a
faulty echo server; one that echoes but gets it wrong gets exit 1.

Every run has a seed, chosen at random when ``--seed`` is not given and always
printed, so that any run can be repeated exactly. Results go to stdout, errors
and the progress line (only on a terminal) to stderr.

Ctrl-C (and SIGTERM, SIGHUP) stops a run cleanly: see ``echofuzz.frontends.interrupts``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import secrets
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

# Importing Hypothesis and trio takes a third of a second, the likeliest moment for
# an early Ctrl-C: exit quietly with 130 then, rather than print an import traceback.
try:
    from hypothesis.configuration import set_hypothesis_home_dir

    from echofuzz.engine.campaign import FuzzOptions, FuzzResult, MiB
    from echofuzz.engine.databases import DatabaseError, close_database, open_database
    from echofuzz.engine.targets import (
        STARTUP_TIMEOUT,
        AddressTarget,
        SpawnedTarget,
        Target,
        TargetError,
        parse_address,
    )
    from echofuzz.frontends.interrupts import InterruptGuard, run_guarded
    from echofuzz.outputs.reproduction import (
        Reproduction,
        ReproductionError,
        load_reproduction,
        replay_differentially,
        script_source,
        write_atomically,
        write_script,
    )
    from echofuzz.vocabulary import OPS, Step
except KeyboardInterrupt:
    raise SystemExit(130) from None


PROG = "echofuzz"
EXIT_PASS, EXIT_DIVERGENCE, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: Command-line defaults: about 15 s against a correct local server, and every
#: broken server of tests/corpus caught within a few seconds (see notes/echofuzz.md).
DEFAULT_MAX_EXAMPLES = 100
DEFAULT_DEADLINE = 1.0
DEFAULT_MAX_PAYLOAD = 4 * MiB
DEFAULT_MAX_CONNECTIONS = 6
DEFAULT_STEPS_PER_CASE = 30
DEFAULT_SHRINK_SECONDS = FuzzOptions().shrink_seconds
#: How long ``HOST:PORT`` may take to accept the first connection.
ADDRESS_CONNECT_TIMEOUT = 3.0
DEFAULT_REPRO = "echofuzz-repro.py"
#: Steps printed in full; longer (history-dependent) reproductions are elided in the middle.
SHOWN_STEPS = 120


class UsageError(Exception):
    """A problem with the command line found after parsing; exit 2 with one line."""


# -- argument parsing ----------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, but every error is the single line ``echofuzz: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def seed_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


SIZE = re.compile(r"(\d+)\s*(k|kb|kib|m|mb|mib)?", re.IGNORECASE)


def byte_size(text: str) -> int:
    """``65536``, ``64K``, ``4M`` or ``4MiB`` (K and M are powers of two here)."""
    match = SIZE.fullmatch(text.strip())
    if match is None or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of bytes of at least 1 (like 65536, 64K or 4M), got {text!r}"
        )
    unit = (match[2] or "").lower()[:1]
    return int(match[1]) * {"": 1, "k": 1024, "m": MiB}[unit]


def operations(text: str) -> frozenset[str]:
    """A comma list of step operations; ``connect`` must be among them."""
    chosen = {word.strip() for word in text.split(",") if word.strip()}
    unknown = sorted(chosen - set(OPS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPS)}"
        )
    if "connect" not in chosen:
        raise argparse.ArgumentTypeError("the operations must include connect")
    return frozenset(chosen | {"finish"})


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description=(
            "Fuzz a TCP echo server: random client behaviour (connections, payloads, "
            "half-closes, resets, slow readers, bursts) is run against the server and against "
            "a reference echo server at once, and any difference is shrunk to a minimal sequence."
        ),
        epilog=(
            "exit status: 0 no divergence, 1 divergence found, 2 usage error or unusable target, "
            "130 interrupted. Example: echofuzz --spawn 'python server.py --port {port}'"
        ),
    )
    parser.add_argument(
        "address", nargs="?", metavar="HOST:PORT", help="a server that is already running"
    )
    parser.add_argument(
        "--spawn",
        metavar="CMD",
        help="start the server with this command line; {port} is replaced by a free port",
    )
    parser.add_argument(
        "--startup-timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help=f"how long the server may take to accept a first connection (default "
        f"{STARTUP_TIMEOUT:g} with --spawn, {ADDRESS_CONNECT_TIMEOUT:g} for HOST:PORT)",
    )
    parser.add_argument(
        "--max-examples",
        type=positive_int,
        default=DEFAULT_MAX_EXAMPLES,
        metavar="N",
        help=f"test cases to generate (default {DEFAULT_MAX_EXAMPLES})",
    )
    parser.add_argument(
        "--seed", type=seed_number, metavar="N", help="random seed (default: a random one)"
    )
    parser.add_argument(
        "--deadline",
        type=positive_seconds,
        metavar="SECONDS",
        help=f"how long each wait for the server may take, plus transfer time for large "
        f"payloads (default {DEFAULT_DEADLINE:g})",
    )
    parser.add_argument(
        "--max-payload",
        type=byte_size,
        default=DEFAULT_MAX_PAYLOAD,
        metavar="BYTES",
        help="largest payload of one send, like 65536, 64K or 4M (default 4M)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"connections open at once; 1 for one-client servers "
        f"(default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--steps-per-case",
        type=positive_int,
        default=DEFAULT_STEPS_PER_CASE,
        metavar="N",
        help=f"most steps in one test case (default {DEFAULT_STEPS_PER_CASE})",
    )
    parser.add_argument(
        "--ops",
        type=operations,
        metavar="LIST",
        help=f"comma list of the operations to use, out of {', '.join(OPS)} (default all)",
    )
    parser.add_argument(
        "--database",
        metavar="DIR|redis://HOST:PORT|none",
        help="keep failures in a Hypothesis example database, shared between runs and "
        "machines, and replay them first (default none)",
    )
    parser.add_argument(
        "--no-shrink", action="store_true", help="report the first failure as found, unshrunk"
    )
    parser.add_argument(
        "--shrink-time",
        type=positive_seconds,
        default=DEFAULT_SHRINK_SECONDS,
        metavar="SECONDS",
        help=f"time budget for shrinking a failure (default {DEFAULT_SHRINK_SECONDS:g})",
    )
    parser.add_argument("--report", metavar="PATH", help="write a JSON report here")
    parser.add_argument(
        "--repro",
        metavar="PATH",
        help=f"where to write the reproduction script on a failure (default ./{DEFAULT_REPRO})",
    )
    parser.add_argument(
        "--replay",
        metavar="PATH",
        help="instead of fuzzing, replay a report's reproduction (or a JSON list of steps) "
        "against the target: exit 1 if it diverges, 0 if not",
    )
    return parser


@dataclass
class Invocation:
    """The command line, checked: everything needed before a server is started."""

    target: Target
    options: FuzzOptions
    seed: int
    report: Path | None
    repro: Path | None
    replay: Reproduction | None
    rerun: str


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def writable_path(option: str, text: str) -> Path:
    """Check where an output goes before fuzzing, not after a minute of it."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {text}: the directory {str(path.parent)!r} does not exist")
    return path


def make_target(address: str | None, spawn: str | None, startup: float | None) -> Target:
    if address is not None and spawn is not None:
        raise UsageError("give either HOST:PORT or --spawn CMD, not both")
    if address is None and spawn is None:
        raise UsageError("no target: give HOST:PORT of a running server, or --spawn CMD")
    if spawn is not None:
        return SpawnedTarget(spawn, startup_timeout=startup or STARTUP_TIMEOUT)
    assert address is not None
    return AddressTarget(parse_address(address), connect_timeout=startup or ADDRESS_CONNECT_TIMEOUT)


def rerun_command(argv: Sequence[str], seed: int) -> str:
    """The command line that repeats this run: the same arguments, with the seed made explicit."""
    words = list(argv)
    given = any(word == "--seed" or word.startswith("--seed=") for word in words)
    if not given:
        words[:0] = ["--seed", str(seed)]
    return shlex.join([PROG, *words])


def check_invocation(argv: Sequence[str]) -> Invocation:
    """Parse and check everything; SystemExit(2) from argparse, or UsageError/TargetError."""
    args = build_parser().parse_args(argv)
    replay: Reproduction | None = None
    if args.replay is not None:
        replay = load_reproduction(Path(args.replay).expanduser())
    target = make_target(args.address, args.spawn, args.startup_timeout)
    report = writable_path("--report", args.report) if args.report else None
    repro = writable_path("--repro", args.repro) if args.repro else None
    if repro is None and replay is None:
        repro = Path(DEFAULT_REPRO)  # in the working directory, named as the user sees it
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    deadline = args.deadline
    if deadline is None:
        deadline = replay.deadline if replay is not None and replay.deadline else DEFAULT_DEADLINE
    options = FuzzOptions(
        max_examples=args.max_examples,
        seed=seed,
        deadline=deadline,
        max_payload=args.max_payload,
        max_connections=args.max_connections,
        steps_per_case=args.steps_per_case,
        ops=args.ops if args.ops is not None else frozenset(OPS),
        database=open_database(args.database),  # last: it may create a directory
        progress=sys.stderr.isatty(),
        shrink=not args.no_shrink,
        shrink_seconds=args.shrink_time,
    )
    return Invocation(target, options, seed, report, repro, replay, rerun_command(argv, seed))


# -- reporting ---------------------------------------------------------------------------


def report_json(
    result: FuzzResult, options: FuzzOptions, repro: Path | None, rerun: str | None
) -> str:
    """``FuzzResult.to_json`` plus what it takes to act on it: options, script, rerun command."""
    out = result.to_json()
    out["options"] = {
        "max_examples": options.max_examples,
        "deadline": options.deadline,
        "max_payload": options.max_payload,
        "max_connections": options.max_connections,
        "steps_per_case": options.steps_per_case,
        "ops": [op for op in OPS if op in options.ops],
        "shrink": options.shrink,
    }
    out["repro_script"] = None if repro is None else str(repro)
    out["rerun"] = rerun
    return json.dumps(out, indent=2) + "\n"


def print_steps(steps: list[Step], out: TextIO) -> None:
    """Numbered steps; a history's test cases are set apart, and a long one elided."""
    numbered = list(enumerate(steps, 1))
    if len(numbered) > SHOWN_STEPS:
        head, tail = numbered[: SHOWN_STEPS // 2], numbered[-SHOWN_STEPS // 2 :]
        skipped = len(numbered) - len(head) - len(tail)
    else:
        head, tail, skipped = numbered, [], 0
    width = len(str(len(steps)))
    for number, step in head:
        out.write(f"  {number:>{width}}. {step.describe()}\n")
    if skipped:
        out.write(f"  {'':>{width}}  ... {skipped} more steps (all are in the report and script)\n")
    for number, step in tail:
        out.write(f"  {number:>{width}}. {step.describe()}\n")


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


@dataclass
class Written:
    """What ``write_outputs`` managed to write, and the first thing it could not."""

    repro: Path | None = None
    error: str | None = None


def write_outputs(invocation: Invocation, result: FuzzResult, comment: list[str]) -> Written:
    """The reproduction script (when there is something to reproduce), then the report.

    A failure to write is reported after the summary rather than instead of it:
    the verdict of a long run must not be lost to a full disk.
    """
    written = Written()
    steps = result.reproduction
    try:
        if steps and result.verdict != "pass" and invocation.repro is not None:
            script = script_source(steps, invocation.options.deadline, comment)
            write_script(invocation.repro, script)
            written.repro = invocation.repro
        if invocation.report is not None:
            write_atomically(
                invocation.report,
                report_json(result, invocation.options, written.repro, invocation.rerun),
            )
    except OSError as exc:
        written.error = f"cannot write {exc.filename or 'an output file'}: {exc.strerror or exc}"
    return written


def exit_status(result: FuzzResult, guard: InterruptGuard) -> int:
    if result.verdict == "interrupted" or guard.interrupted:
        return guard.exit_status
    return EXIT_DIVERGENCE if result.verdict == "fail" else EXIT_PASS


# -- the two modes ---------------------------------------------------------------------------


def fuzz(invocation: Invocation, guard: InterruptGuard) -> int:
    options = invocation.options
    sys.stdout.write(
        f"{PROG}: fuzzing {invocation.target.description} with seed {invocation.seed} "
        f"({options.max_examples} test cases, deadline {options.deadline:g} s)\n"
    )
    sys.stdout.flush()
    result = run_guarded(invocation.target, options, guard)
    comment = [
        f"Found by echofuzz (seed {result.seed}) against {result.target}:",
        f"  {result.reason or 'a divergence'}",
    ]
    written = write_outputs(invocation, result, comment)
    sys.stdout.write(format_summary(result, written.repro, invocation.report, invocation.rerun))
    sys.stdout.flush()
    return fail(written.error) if written.error else exit_status(result, guard)


def replay(invocation: Invocation, reproduction: Reproduction, guard: InterruptGuard) -> int:
    target, steps = invocation.target, reproduction.steps
    deadline = invocation.options.deadline
    sys.stdout.write(
        f"{PROG}: replaying {len(steps)} steps against {target.description} "
        f"(deadline {deadline:g} s)\n"
    )
    sys.stdout.flush()
    started = time.monotonic()
    result = FuzzResult("pass", target.description, None, examples=1, reproduction=steps)
    try:
        problem = replay_differentially(target, steps, deadline, guard.checkpoint)
    except KeyboardInterrupt:
        result.verdict = "interrupted"
        result.notes.append("interrupted by the user before the replay finished")
    else:
        if problem is not None:
            result.verdict, result.reason, result.reproduced = "fail", problem, True
        else:
            result.reproduced = False
    result.elapsed_s = time.monotonic() - started
    result.steps = len(steps)
    comment = [f"Replayed by echofuzz against {target.description}:", f"  {result.reason}"]
    written = write_outputs(invocation, result, comment)
    if result.verdict == "fail":
        sys.stdout.write(f"{PROG}: REPRODUCED: {result.reason}\n")
    elif result.verdict == "pass":
        sys.stdout.write(f"{PROG}: did not reproduce: the server matched the oracle throughout\n")
    else:
        sys.stdout.write(f"{PROG}: interrupted before the replay finished\n")
    if written.repro is not None:
        sys.stdout.write(f"reproduction script: {written.repro}\n")
    sys.stdout.flush()
    return fail(written.error) if written.error else exit_status(result, guard)


def write_error_report(invocation: Invocation, exc: Exception) -> None:
    """Even a run that could not start leaves a report, so CI can show why."""
    assert invocation.report is not None
    error = {"verdict": "error", "target": invocation.target.description, "reason": str(exc)}
    with contextlib.suppress(OSError):
        write_atomically(invocation.report, json.dumps(error, indent=2) + "\n")


def fail(message: object) -> int:
    sys.stderr.write(f"{PROG}: error: {one_line(message)}\n")
    sys.stderr.flush()
    return EXIT_ERROR


def hypothesis_home() -> Path:
    """Where Hypothesis keeps its own caches when echofuzz runs as a program.

    Hypothesis defaults to ``.hypothesis/`` in the working directory; a tool run
    in someone's project should leave nothing there but what it was asked for.
    """
    cache = os.environ.get("XDG_CACHE_HOME")
    if not cache:
        try:
            cache = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory at all
            cache = tempfile.gettempdir()
    return Path(cache) / "echofuzz" / "hypothesis"


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit status (see the module docstring).

    Called without ``argv`` it is the program, and moves Hypothesis's caches out
    of the working directory (see ``hypothesis_home``); called with a list, as
    tests do, it leaves that process-wide setting alone.
    """
    if argv is None:
        set_hypothesis_home_dir(hypothesis_home())
    arguments = list(sys.argv[1:] if argv is None else argv)
    guard = InterruptGuard()
    invocation: Invocation | None = None
    try:
        with guard.installed():
            invocation = check_invocation(arguments)
            if invocation.replay is not None:
                return replay(invocation, invocation.replay, guard)
            return fuzz(invocation, guard)
    except SystemExit as exc:  # argparse: --help (0) or a usage error, already printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except (UsageError, TargetError, ReproductionError, DatabaseError) as exc:
        if invocation is not None and invocation.report is not None:
            write_error_report(invocation, exc)
        return fail(exc)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return guard.exit_status
    except Exception:
        if guard.insisted:  # a forced stop may break anything on its way out
            sys.stderr.write(f"{PROG}: interrupted\n")
            return guard.exit_status
        sys.stderr.write(f"{PROG}: internal error (a bug in echofuzz; please report it):\n")
        traceback.print_exc()
        return EXIT_INTERNAL
    finally:
        if invocation is not None:
            close_database(invocation.options.database)
