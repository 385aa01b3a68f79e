"""Run the mutation tests: ``python -m tests.mutation [--survivors] [PATH ...]``.

The mutants are cosmic-ray's (its operators, its in-place ``use_mutation``);
the executor is ours. ``cosmic-ray exec`` starts a new interpreter and a new
pytest for every mutant, which costs more than the tests it then runs (about
1.3 s of the 2 s that a loop module's tests take). Here the runner imports
pytest, Hypothesis and trio once, and forks a child per mutant that runs
``pytest.main`` on the mutated tree. Nothing under ``impl/``, ``spec/`` or the
test modules is imported before the fork, so each child imports the mutated
file from disk, as does every subprocess its tests start.

Bytecode is neither written nor trusted: a mutant written within the same
second as the previous one, with the same size, would otherwise be run from
the previous one's ``.pyc``.

Each child runs in its own process group, so that a timeout kills the servers
its tests started along with it. A mutant is killed when pytest exits with
anything but 0 or when it runs past three times the unmutated run plus five
seconds. The unmutated run must pass first, or the module is not scored.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported before any fork, so that no child pays for them: nothing of this project.
import hypothesis  # noqa: E402, F401
import pytest  # noqa: E402
import trio  # noqa: E402, F401
from cosmic_ray.ast import ast_nodes, get_ast_from_path  # noqa: E402
from cosmic_ray.mutating import mutate_code, use_mutation  # noqa: E402
from cosmic_ray.operators.operator import Operator  # noqa: E402
from cosmic_ray.plugins import get_operator, operator_names  # noqa: E402

from tests.mutation.equivalent import EQUIVALENT, Equivalent  # noqa: E402
from tests.mutation.selection import MODULES  # noqa: E402

POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Mutant:
    path: str
    operator_name: str
    operator: Operator
    occurrence: int
    line: int
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.operator_name}: {self.before!r} -> {self.after!r}"


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the annotations are, as ((line, column), (end line, end column)) spans."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                assert annotation.end_lineno is not None and annotation.end_col_offset is not None
                spans.append(
                    (
                        (annotation.lineno, annotation.col_offset),
                        (annotation.end_lineno, annotation.end_col_offset),
                    )
                )
    return spans


def _changed_line(before: str, after: str) -> tuple[int, str, str]:
    """The first line the mutant changes: its number, and its text before and after, stripped."""
    old, new = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            return (
                i1 + 1,
                " ".join(line.strip() for line in old[i1:i2]),
                " ".join(line.strip() for line in new[j1:j2]),
            )
    return 0, "", ""


def _operators() -> Iterator[tuple[str, Operator]]:
    for name in operator_names():
        operator_class = get_operator(name)
        if not operator_class.arguments():  # the parametrised ones need a configuration
            yield name, operator_class()


STARS_THAT_ARE_NOT_OPERATORS = {"parameters", "param", "argument", "star_expr"}
"""Where parso's ``*`` and ``**`` leaves are markers, not multiplication or power.

``def f(a, *, b)``, ``*args``, ``f(*args)``, ``[*xs]``: cosmic-ray replaces
these stars like operators. Replaced by anything but ``/`` they are syntax
errors, which any test "kills"; the keyword-only ``*`` replaced by ``/`` only
changes which spellings of a call are accepted. Neither is a changed line of
the program, so neither is scored.
"""


def _not_an_operator(node: object) -> bool:
    parent = getattr(node, "parent", None)
    return getattr(node, "type", None) == "operator" and (
        getattr(node, "value", None) in {"*", "**"}
        and getattr(parent, "type", None) in STARS_THAT_ARE_NOT_OPERATORS
    )


def mutants(path: str) -> tuple[list[Mutant], int]:
    """Every mutant of ``path`` outside annotations and signatures, and how many were inside."""
    source = (ROOT / path).read_text(encoding="utf-8")
    spans = _annotation_spans(source)
    module_ast = get_ast_from_path(ROOT / path)
    found, left_out = [], 0
    for name, operator in _operators():
        occurrence = 0
        for node in ast_nodes(module_ast):
            for start, _ in operator.mutation_positions(node):
                if _not_an_operator(node) or any(low <= tuple(start) < high for low, high in spans):
                    left_out += 1
                else:
                    mutated = mutate_code(source, operator, occurrence)
                    if mutated is not None and mutated != source:
                        line, before, after = _changed_line(source, mutated)
                        short = name.removeprefix("core/")
                        found.append(Mutant(path, short, operator, occurrence, line, before, after))
                occurrence += 1
    return found, left_out


def _run_tests(arguments: Sequence[str], timeout: float | None) -> tuple[bool, float]:
    """Run pytest in a forked child; returns (passed, seconds). A timeout counts as failed."""
    started = time.monotonic()
    child = os.fork()
    if child == 0:  # pragma: no cover -- the child
        try:
            os.setpgid(0, 0)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            # Plain asserts: rewriting would warn (an error here) about modules imported above.
            code = pytest.main(["-q", "-x", "--assert=plain", "-p", "no:randomly", *arguments])
            os._exit(int(code))
        except BaseException:
            os._exit(99)
    try:
        while True:
            done, status = os.waitpid(child, os.WNOHANG)
            elapsed = time.monotonic() - started
            if done:
                return os.waitstatus_to_exitcode(status) == 0, elapsed
            if timeout is not None and elapsed > timeout:
                break
            time.sleep(POLL_SECONDS)
    except BaseException:
        os.killpg(child, signal.SIGKILL)
        os.waitpid(child, 0)
        raise
    os.killpg(child, signal.SIGKILL)
    os.waitpid(child, 0)
    return False, elapsed


def _equivalent(mutant: Mutant, used: set[Equivalent]) -> bool:
    for entry in EQUIVALENT:
        if (
            fnmatch.fnmatchcase(mutant.path, entry.path)
            and entry.before == mutant.before
            and mutant.after in entry.after
        ):
            used.add(entry)
            return True
    return False


def score(path: str, *, show_survivors: bool, used: set[Equivalent]) -> tuple[int, int] | None:
    """Mutate ``path`` and run its tests once per mutant; (killed, scored), None if unscored."""
    found, not_code = mutants(path)
    scored = [mutant for mutant in found if not _equivalent(mutant, used)]
    arguments = MODULES[path]
    print(
        f"{path}: {len(scored)} mutants ({not_code} in annotations or signatures and "
        f"{len(found) - len(scored)} listed as equivalent left out)",
        file=sys.stderr,
        flush=True,
    )
    if not scored:
        return 0, 0
    passed, baseline = _run_tests(arguments, timeout=None)
    if not passed:
        print(f"{path}: the unmutated tests fail; not scored", file=sys.stderr, flush=True)
        return None
    timeout = 3 * baseline + 5
    print(f"{path}: the unmutated tests pass in {baseline:.1f} s", file=sys.stderr, flush=True)
    killed = 0
    for mutant in scored:
        with use_mutation(ROOT / path, mutant.operator, mutant.occurrence) as (_, mutated):
            assert mutated is not None, mutant.describe()
            survived, _ = _run_tests(arguments, timeout)
        if survived:
            if show_survivors:
                print(f"  survived: {mutant.describe()}", file=sys.stderr, flush=True)
        else:
            killed += 1
    return killed, len(scored)


def _percent(killed: int, scored: int) -> str:
    """Rounded down to a tenth, so that 94.96 % does not show as a pass."""
    tenths = 1000 if scored == 0 else killed * 1000 // scored
    return f"{tenths // 10}.{tenths % 10}%"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="modules to score (default: all)")
    parser.add_argument(
        "--survivors", action="store_true", help="list every surviving mutant on stderr"
    )
    arguments = parser.parse_args(argv)
    unknown = [path for path in arguments.paths if path not in MODULES]
    if unknown:
        parser.error(f"not in tests/mutation/selection.py: {', '.join(unknown)}")
    os.chdir(ROOT)
    # Inherited by every child and every process its tests start.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    os.environ.setdefault("HYPOTHESIS_PROFILE", "mutation")
    # The servers promise to flush their one line; unbuffered output would hide a missing flush.
    os.environ.pop("PYTHONUNBUFFERED", None)
    # A background job of a non-interactive shell starts with SIGINT ignored, and
    # so would every server the tests start; with a handler here, they start with
    # the default, as the tests that interrupt them expect.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for cache in (ROOT / "impl").rglob("__pycache__"):
        shutil.rmtree(cache)
    used: set[Equivalent] = set()
    failed = False
    for path in arguments.paths or list(MODULES):
        result = score(path, show_survivors=arguments.survivors, used=used)
        if result is None:
            failed = True
            continue
        killed, scored = result
        print(f"{path}: {killed} killed of {scored} ({_percent(killed, scored)})", flush=True)
    if not arguments.paths:
        for entry in EQUIVALENT:
            if entry not in used:
                print(f"stale equivalent-mutant entry: {entry}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
