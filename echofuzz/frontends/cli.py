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

The options come from the one table in ``echofuzz.options``; Hypothesis and
trio are imported only once the command line has been checked, so a usage
error is answered at once.
"""

from __future__ import annotations

# An early Ctrl-C lands in these imports most likely: exit quietly with 130 then.
try:
    import argparse
    import contextlib
    import os
    import secrets
    import shlex
    import sys
    import tempfile
    import time
    import traceback
    from collections.abc import Sequence
    from dataclasses import dataclass, field
    from pathlib import Path
    from typing import TYPE_CHECKING, NoReturn

    from echofuzz.engine.targets import (
        AddressTarget,
        SpawnedTarget,
        Target,
        TargetError,
        parse_address,
    )
    from echofuzz.frontends.interrupts import InterruptGuard
    from echofuzz.options import (
        DEFAULTS,
        OPTIONS,
        FuzzOptions,
        declared_behaviours,
        help_text,
        options_from,
    )
    from echofuzz.outputs.html import html_report, write_html
    from echofuzz.outputs.report import (
        Reproduction,
        ReproductionError,
        error_report_text,
        load_reproduction,
        report_text,
    )
    from echofuzz.outputs.script import write_atomically, write_bug_scripts
    from echofuzz.outputs.summary import PROG, format_summary
    from echofuzz.result import FuzzResult
except KeyboardInterrupt:
    raise SystemExit(130) from None

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

EXIT_PASS, EXIT_DIVERGENCE, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: A HOST:PORT target stopped accepting mid-run, with no confirmed bug before it.
EXIT_LOST = 4


def squash(text: object) -> str:
    """Any message as one line."""
    return " ".join(str(text).split())


class UsageError(Exception):
    """A problem with the command line found after parsing; exit 2 with one line."""


# -- argument parsing ----------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, but every error is the single line ``echofuzz: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {squash(message)} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    """The command line, from ``echofuzz.options.OPTIONS``: every default left to FuzzOptions."""
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
    for option in OPTIONS:
        if option.where == "plugin":
            continue
        if option.dest == "address":
            parser.add_argument("address", nargs="?", metavar=option.metavar, help=option.help)
        elif option.parse is None:
            parser.add_argument(
                option.flag, dest=option.dest, action="store_true", help=option.help
            )
        else:
            parser.add_argument(
                option.flag,
                dest=option.dest,
                type=option.parse,
                default=None,
                metavar=option.metavar,
                help=help_text(option),
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


def writable_path(option: str, text: str) -> Path:
    """Check where an output goes before fuzzing, not after a minute of it."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {text}: the directory {str(path.parent)!r} does not exist")
    return path


def make_target(address: str | None, spawn: str | None, options: FuzzOptions) -> Target:
    if address is not None and spawn is not None:
        raise UsageError("give either HOST:PORT or --spawn CMD, not both")
    if address is None and spawn is None:
        raise UsageError("no target: give HOST:PORT of a running server, or --spawn CMD")
    if spawn is not None:
        return SpawnedTarget(spawn, startup_timeout=options.connect_timeout(spawned=True))
    assert address is not None
    timeout = options.connect_timeout(spawned=False)
    return AddressTarget(parse_address(address), connect_timeout=timeout)


def rerun_command(argv: Sequence[str], seed: int) -> str:
    """The command line that repeats this run: the same arguments, with the seed made explicit."""
    words = list(argv)
    given = any(word == "--seed" or word.startswith("--seed=") for word in words)
    if not given:
        words[:0] = ["--seed", str(seed)]
    return shlex.join([PROG, *words])


def parse_invocation(argv: Sequence[str]) -> Invocation:
    """Parse and check everything; SystemExit(2) from argparse, or UsageError/TargetError."""
    args = build_parser().parse_args(argv)
    values = vars(args)
    replay: Reproduction | None = None
    if args.replay is not None:
        replay = load_reproduction(Path(args.replay).expanduser())
        if args.deadline is None and replay.deadline:
            values["deadline"] = replay.deadline
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    options = options_from(values, seed=seed, progress=sys.stderr.isatty())
    target = make_target(args.address, args.spawn, options)
    report = writable_path("--report", args.report) if args.report else None
    if args.html:
        writable_path("--html", args.html)
    repro = writable_path("--repro", args.repro) if args.repro else None
    if repro is None and replay is None:
        repro = Path(DEFAULTS.repro)  # in the working directory, named as the user sees it
    return Invocation(target, options, seed, report, repro, replay, rerun_command(argv, seed))


# -- outputs ---------------------------------------------------------------------------


@dataclass
class Written:
    """What ``write_outputs`` managed to write, and the first thing it could not."""

    repros: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def repro(self) -> Path | None:
        return self.repros[0] if self.repros else None


def write_outputs(invocation: Invocation, result: FuzzResult) -> Written:
    """A reproduction script per bug (when there is something to reproduce), then the report.

    A failure to write is reported after the summary rather than instead of it:
    the verdict of a long run must not be lost to a full disk.
    """
    written = Written()
    try:
        if result.verdict != "pass" and invocation.repro is not None:
            written.repros = write_bug_scripts(
                invocation.repro, result, invocation.options.deadline, invocation.options.half_close
            )
        if invocation.report is not None:
            write_atomically(
                invocation.report,
                report_text(result, invocation.options, written.repro, invocation.rerun),
            )
        options = invocation.options
        if options.html is not None:
            page = html_report(result, options, declared_behaviours(options))
            write_html(Path(options.html).expanduser(), page)
    except OSError as exc:
        written.error = f"cannot write {exc.filename or 'an output file'}: {exc.strerror or exc}"
    return written


def exit_status(result: FuzzResult, guard: InterruptGuard) -> int:
    if result.verdict == "interrupted" or guard.interrupted:
        return guard.exit_status
    if result.verdict == "lost":
        return EXIT_LOST
    return EXIT_DIVERGENCE if result.verdict == "fail" else EXIT_PASS


def show_progress(line: str) -> None:
    sys.stderr.write(f"\r  {line} ")
    sys.stderr.flush()


# -- the two modes ---------------------------------------------------------------------------


def fuzz(invocation: Invocation, guard: InterruptGuard, database: ExampleDatabase | None) -> int:
    from echofuzz.frontends.interrupts import run_guarded  # brings in Hypothesis and trio

    options = invocation.options
    sys.stdout.write(
        f"{PROG}: fuzzing {invocation.target.description} with seed {invocation.seed} "
        f"({options.max_examples} test cases, deadline {options.deadline:g} s)\n"
    )
    sys.stdout.flush()
    progress = show_progress if options.progress else None
    try:
        result = run_guarded(invocation.target, options, guard, database, progress)
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    written = write_outputs(invocation, result)
    sys.stdout.write(format_summary(result, written.repros, invocation.report, invocation.rerun))
    sys.stdout.flush()
    return fail(written.error) if written.error else exit_status(result, guard)


def replay(invocation: Invocation, reproduction: Reproduction, guard: InterruptGuard) -> int:
    from echofuzz.engine.replay import replay_once  # brings in trio

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
        problem = replay_once(
            target,
            steps,
            deadline,
            stop_requested=lambda: guard.pending,
            half_close=invocation.options.half_close,
        )
        guard.checkpoint()  # a replay cut short by an interrupt proves nothing
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
    written = write_outputs(invocation, result)
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
    with contextlib.suppress(OSError):
        write_atomically(
            invocation.report, error_report_text(invocation.target.description, str(exc))
        )


def fail(message: object) -> int:
    sys.stderr.write(f"{PROG}: error: {squash(message)}\n")
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


def open_example_database(options: FuzzOptions, as_program: bool) -> ExampleDatabase | None:
    """Hypothesis arrives here, once the command line is known to be good."""
    from hypothesis.configuration import set_hypothesis_home_dir

    from echofuzz.engine.databases import DatabaseError, open_database

    if as_program:
        set_hypothesis_home_dir(hypothesis_home())
    try:
        return open_database(options.database)
    except DatabaseError as exc:
        raise UsageError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit status (see the module docstring).

    Called without ``argv`` it is the program, and moves Hypothesis's caches out
    of the working directory (see ``hypothesis_home``); called with a list, as
    tests do, it leaves that process-wide setting alone.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    guard = InterruptGuard()
    invocation: Invocation | None = None
    database: ExampleDatabase | None = None
    try:
        with guard.installed():
            invocation = parse_invocation(arguments)
            database = open_example_database(invocation.options, as_program=argv is None)
            if invocation.replay is not None:
                return replay(invocation, invocation.replay, guard)
            return fuzz(invocation, guard, database)
    except SystemExit as exc:  # argparse: --help (0) or a usage error, already printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except (UsageError, TargetError, ReproductionError) as exc:
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
        if database is not None:
            from echofuzz.engine.databases import close_database

            close_database(database)
