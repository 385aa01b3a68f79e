"""Reproductions: read one back, replay it differentially, and write the standalone script.

A reproduction is a list of ``Step`` values. It reaches echofuzz in two forms --
the ``reproduction`` field of a report, or a bare JSON list of steps -- and
leaves it in two: that report, and a copy of ``replay_script.py`` with the steps
embedded, which the owner of a server can run with nothing but Python. Keeping
all of that here means the command line and the pytest plugin cannot disagree
about what a reproduction is.

Files from elsewhere are checked before anything starts, because a reproduction
that names a connection it never opened would otherwise fail deep inside the
trio loop, as a traceback, after a server had been spawned for nothing:

>>> from echofuzz.vocabulary import Payload
>>> try:
...     check_sequence([Step("send", conn="c1", payload=Payload.literal(b"x"))])
... except ReproductionError as exc:
...     print(exc)
step 1, send(c1, b'x'): c1 is not an open connection
"""

from __future__ import annotations

import json
import os
import pprint
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from echofuzz import wire as replay_script
from echofuzz.engine.executor import DifferentialExecutor
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.targets import Target
from echofuzz.vocabulary import Step, steps_from_json

#: The two lines of ``replay_script.py`` that a written reproduction fills in.
STEPS_LINE = "EMBEDDED_STEPS: list[dict[str, object]] | None = None"
DEADLINE_LINE = "EMBEDDED_DEADLINE: float | None = None"

#: Operations that open the connection they name, and those that need it open.
OPENING = frozenset({"connect", "slow_start", "connect_reset"})
USING = frozenset({"send", "expect", "half_close", "close", "reset", "slow_drain"})
CLOSING = frozenset({"half_close", "close", "reset"})


class ReproductionError(Exception):
    """A reproduction file cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Reproduction:
    """Steps read from a file, with the deadline of the campaign that found them, if known."""

    steps: list[Step]
    deadline: float | None = None
    reason: str | None = None


def _step_label(number: int, step: Step) -> str:
    return f"step {number}, {step.describe()}"


def check_sequence(steps: Iterable[Step]) -> None:
    """Refuse steps that the executor could not run: unopened or reopened connections.

    The Hypothesis machine never generates such sequences; hand-edited files can.
    """
    live: set[str] = set()
    for number, step in enumerate(steps, 1):
        if step.op in ("send", "slow_start") and step.payload is None:
            raise ReproductionError(f"step {number} ({step.op}) has no payload")
        if step.op == "burst" and not step.sends:
            raise ReproductionError(f"step {number} (burst) sends nothing")
        names = [name for name, _ in step.sends] if step.op == "burst" else [step.conn]
        if step.op in OPENING:
            if not step.conn:
                raise ReproductionError(f"step {number} ({step.op}) names no connection")
            if step.conn in live:
                raise ReproductionError(f"{_step_label(number, step)}: {step.conn} is already open")
            if step.op != "connect_reset":
                live.add(step.conn)
        elif step.op in USING or step.op == "burst":
            for name in names:
                if name not in live:
                    label = _step_label(number, step)
                    raise ReproductionError(f"{label}: {name} is not an open connection")
            if step.op in CLOSING:
                live.discard(step.conn)
        elif step.op == "finish":
            live.clear()


def parse_reproduction(value: object, origin: str) -> Reproduction:
    """A report (a JSON object with ``reproduction``) or a bare list of steps."""
    deadline: float | None = None
    reason: str | None = None
    if isinstance(value, dict):
        if "reproduction" not in value:
            raise ReproductionError(f"{origin} is neither an echofuzz report nor a list of steps")
        if value["reproduction"] is None:
            verdict = value.get("verdict", "unknown")
            raise ReproductionError(
                f"{origin} is a report without a reproduction (verdict {verdict!r})"
            )
        options = value.get("options")
        if isinstance(options, dict) and isinstance(options.get("deadline"), (int, float)):
            deadline = float(options["deadline"])
        if isinstance(value.get("reason"), str):
            reason = value["reason"]
        value = value["reproduction"]
    if not isinstance(value, list):
        raise ReproductionError(f"{origin}: expected a list of steps, found {type(value).__name__}")
    if not value:
        raise ReproductionError(f"{origin} has no steps")
    steps = []
    for number, item in enumerate(value, 1):
        try:
            steps.extend(steps_from_json([item]))
        except (ValueError, TypeError, KeyError) as exc:
            raise ReproductionError(f"{origin}: step {number}: {one_line(exc)}") from None
    try:
        check_sequence(steps)
    except ReproductionError as exc:
        raise ReproductionError(f"{origin}: {exc}") from None
    return Reproduction(steps, deadline, reason)


def load_reproduction(path: Path) -> Reproduction:
    """Read ``path`` (a report or a list of steps); ReproductionError with one line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        raise ReproductionError(f"cannot read {str(path)!r}: {reason}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReproductionError(f"{str(path)!r} is not JSON: {exc}") from None
    return parse_reproduction(value, repr(str(path)))


def one_line(exc: BaseException) -> str:
    """An exception as a single line, whatever its message looks like."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# -- replaying against a target --------------------------------------------------------


def replay_differentially(
    target: Target,
    steps: list[Step],
    deadline: float,
    checkpoint: Callable[[], None] = lambda: None,
) -> str | None:
    """Start ``target``, run ``steps`` against it and a fresh oracle; the first problem or None.

    ``checkpoint`` is called between steps, where a Ctrl-C may safely stop the
    replay (see ``interrupts.InterruptGuard``). The target is stopped whatever happens.
    A server's death is reported before the symptoms it causes, as the campaign
    does.
    """
    try:
        target.start()
        with TrioThread() as portal:
            executor = DifferentialExecutor(
                portal, target.address(), oracle=None, deadline=deadline
            )
            try:
                for step in steps:
                    checkpoint()
                    problems = executor.execute(step)
                    notice = target.death_notice(grace=0.5 if problems else 0.0)
                    if notice is not None:
                        return f"the server {notice}"
                    if problems:
                        return problems[0]
            finally:
                executor.discard()
    finally:
        target.stop()
    return None


# -- the standalone script -------------------------------------------------------------


def script_source(steps: list[Step], deadline: float, comment: Iterable[str] = ()) -> str:
    """``replay_script.py`` with the steps and the deadline embedded, and a comment above them.

    The result is compiled before it is returned, so a broken template is our
    error now rather than the user's later.
    """
    template = Path(replay_script.__file__).read_text(encoding="utf-8")
    for line in (STEPS_LINE, DEADLINE_LINE):
        if template.count(line) != 1:
            raise RuntimeError(f"replay_script.py no longer has exactly one line {line!r}")
    literal = pprint.pformat([step.to_json() for step in steps], width=96, sort_dicts=False)
    notes = "".join(f"# {' '.join(text.split())}\n" for text in comment)
    source = template.replace(
        STEPS_LINE, f"{notes}EMBEDDED_STEPS: list[dict[str, object]] | None = {literal}"
    ).replace(DEADLINE_LINE, f"EMBEDDED_DEADLINE: float | None = {float(deadline)!r}")
    compile(source, "echofuzz-repro.py", "exec")
    return source


def write_script(path: Path, source: str) -> None:
    """Write the script atomically and make it executable (it has a ``#!`` line)."""
    write_atomically(path, source)
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader, or a Ctrl-C, never meets half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
