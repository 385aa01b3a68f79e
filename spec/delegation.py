"""Refactoring a generator: without ``yield from`` it breaks, with it nothing changes.

Source, the article, "Nesting Coroutines: Syntactic Sugar":

    "We can not refactor this code to the following: [...] This code will
    raise an error because power_coroutine() doesn't have any yield
    statements. To allow refactoring of generators, PEP 380 introduced yield
    from [...] Therefore, yield from allows for nesting for coroutines.
    Another feature is that it will capture return of the nested coroutines."

PEP 380, "The Refactoring Principle": "It should be possible to take a
section of code containing one or more ``yield`` expressions, move it into a
separate function [...] and call the new function using a ``yield from``
expression. The behaviour of the resulting compound generator should be, as
far as reasonably practicable, the same as the original unfactored generator".

Checks, over any inner lists and any repeat count, on a trace that records
what is printed and what is yielded, in order:

* ``check_refactor_preserves_behaviour``: the flat version and the
  ``yield from`` version produce the same trace, and it is the expected one.
* ``check_returns_arrive_in_order``: with subgenerators that return messages,
  each message is printed right after the last value of its subgenerator.
* ``check_refactor_without_yield_from_fails``: what really happens, which the
  article does not say. The version without ``yield from`` is not a generator
  at all but an ordinary function: calling it runs every repeat at once
  (printing every "==> restart"), creates the subgenerators and drops them
  unstarted, and returns None; the error is then the caller's ``for`` loop
  failing with ``TypeError: 'NoneType' object is not iterable``. Nothing is
  yielded, no subgenerator body ever runs, and no warning is given (unlike a
  coroutine that is never awaited).
* ``check_article_listing``: the article's printed listing, exactly.
* ``check_an_unknown_version_is_a_usage_error``: ``python -m impl.power``
  names its versions; any other name is refused the way argparse refuses a
  bad choice (exit status 2, the usage on stderr), before anything runs.

>>> from impl.power import power_coroutine_flat as flat, power_coroutine_yield_from
>>> check_refactor_preserves_behaviour(flat, power_coroutine_yield_from, [1], [2], repeats=2)
>>> expected_trace([1], [2], 1, with_returns=True)  # doctest: +NORMALIZE_WHITESPACE
[('print', '==> restart'), ('yield', 1), ('print', '-> squares done'),
 ('yield', 8), ('print', '-> cubes done')]
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

# The article's words, kept here rather than taken from the implementation.
RESTART = "==> restart"
SQUARES_DONE = "-> squares done"
CUBES_DONE = "-> cubes done"


class PowerCoroutine(Protocol):
    """Every version of ``power_coroutine``, with the article's constants as parameters."""

    def __call__(
        self,
        *,
        squares_of: Iterable[int] = ...,
        cubes_of: Iterable[int] = ...,
        repeats: int = ...,
        emit: Callable[[object], object] = ...,
    ) -> Iterable[int] | None: ...


ARTICLE_LISTING = "".join(
    f"{RESTART}\n1\n4\n9\n{SQUARES_DONE}\n1\n8\n27\n{CUBES_DONE}\n" for _ in range(3)
)
NOT_ITERABLE = "'NoneType' object is not iterable"

Event = tuple[str, object]


def expected_trace(
    squares_of: Sequence[int], cubes_of: Sequence[int], repeats: int, *, with_returns: bool
) -> list[Event]:
    """What the article's loop prints and yields, for these lists and repeats."""
    trace: list[Event] = []
    for _ in range(repeats):
        trace.append(("print", RESTART))
        trace += [("yield", x**2) for x in squares_of]
        if with_returns:
            trace.append(("print", SQUARES_DONE))
        trace += [("yield", y**3) for y in cubes_of]
        if with_returns:
            trace.append(("print", CUBES_DONE))
    return trace


def record(
    power_coroutine: PowerCoroutine,
    squares_of: Sequence[int],
    cubes_of: Sequence[int],
    repeats: int,
) -> list[Event]:
    """Run the article's ``for x in power_coroutine(): print(x)``, recording both."""
    trace: list[Event] = []
    generator = power_coroutine(
        squares_of=squares_of,
        cubes_of=cubes_of,
        repeats=repeats,
        emit=lambda message: trace.append(("print", message)),
    )
    assert generator is not None, f"{power_coroutine} returned None, not a generator"
    for x in generator:
        trace.append(("yield", x))
    return trace


def check_refactor_preserves_behaviour(
    flat: PowerCoroutine,
    refactored: PowerCoroutine,
    squares_of: Sequence[int],
    cubes_of: Sequence[int],
    repeats: int,
) -> None:
    """Moving the inner loops out behind ``yield from`` changes nothing observable."""
    expected = expected_trace(squares_of, cubes_of, repeats, with_returns=False)
    before = record(flat, squares_of, cubes_of, repeats)
    assert before == expected, f"the flat version went {before}, expected {expected}"
    after = record(refactored, squares_of, cubes_of, repeats)
    assert after == before, f"the refactored version went {after}, the flat one {before}"


def check_returns_arrive_in_order(
    with_returns: PowerCoroutine, squares_of: Sequence[int], cubes_of: Sequence[int], repeats: int
) -> None:
    """Each captured return is printed after its subgenerator's last value."""
    expected = expected_trace(squares_of, cubes_of, repeats, with_returns=True)
    got = record(with_returns, squares_of, cubes_of, repeats)
    assert got == expected, f"with returns the trace was {got}, expected {expected}"


class _Untouchable:
    """An inner list that notices being iterated, i.e. a subgenerator body running."""

    def __init__(self, values: Sequence[int]) -> None:
        self.values = values
        self.iterated = False

    def __iter__(self) -> Iterator[int]:
        self.iterated = True
        return iter(self.values)


def check_refactor_without_yield_from_fails(
    without_yield_from: PowerCoroutine,
    squares_of: Sequence[int],
    cubes_of: Sequence[int],
    repeats: int,
) -> None:
    """The call prints every restart and returns None; the ``for`` then fails.

    The article's ``for x in power_coroutine()`` is taken apart into the call
    and the ``iter()`` the loop makes, to show which of the two fails.
    """
    squares, cubes = _Untouchable(squares_of), _Untouchable(cubes_of)
    trace: list[Event] = []
    result = without_yield_from(
        squares_of=squares,
        cubes_of=cubes,
        repeats=repeats,
        emit=lambda message: trace.append(("print", message)),
    )
    restarts = [("print", RESTART)] * repeats
    assert trace == restarts, f"the call went {trace}, expected {restarts}"
    assert result is None, f"the call returned {result!r}, not None"
    assert not squares.iterated, "a squares() body ran, so something iterated it"
    assert not cubes.iterated, "a cubes() body ran, so something iterated it"
    failure: TypeError | None = None
    try:
        iter(result)  # type: ignore[call-overload]  # what ``for`` does first
    except TypeError as exc:
        failure = exc
    assert failure is not None, f"{result!r} turned out to be iterable"
    assert failure.args == (NOT_ITERABLE,), f"{failure!r}, expected TypeError({NOT_ITERABLE!r})"


def check_article_listing(output: str) -> None:
    """``python -m impl.power`` prints what the article says it prints."""
    assert output == ARTICLE_LISTING, f"printed {output!r}, expected {ARTICLE_LISTING!r}"


def check_an_unknown_version_is_a_usage_error(main: Callable[[Sequence[str]], None]) -> None:
    """An unknown version exits with status 2 and names the valid ones; nothing is printed."""
    printed, complained = io.StringIO(), io.StringIO()
    code: object = None
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(complained):
        try:
            main(["no-such-version"])
        except SystemExit as exit:
            code = exit.code
    assert code == 2, f"an unknown version ended with {code!r}, not a usage error (exit 2)"
    assert "invalid choice: 'no-such-version'" in complained.getvalue(), complained.getvalue()
    assert printed.getvalue() == "", f"an unknown version printed {printed.getvalue()!r}"
