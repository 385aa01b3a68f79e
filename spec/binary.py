"""``binary`` and ``abinary``: the same recursion, by ``yield from`` and by ``await``.

Source, the article, "Nesting Coroutines: Syntactic Sugar":

    "Replace yield from with await and stick async keyword before def and we
    have python native coroutine. Therefore binary and abinary defined below
    are equivalent. [...] you can run both using `send` [...] which prints
    <generator object binary at 0x7fc9580977b0> 63
    <coroutine object abinary at 0x7fc958076b40> 63"

and, from its introduction, "the syntax itself is independent of the library".
PEP 492, "Await Expression": ``await`` "uses the yield from implementation
with an extra step of validating its argument"; "Differences from
generators": "Plain generators cannot ``yield from`` native coroutines: doing
so will result in a TypeError."

Checks (``n`` may be any int; the tree has ``2**(n+1) - 1`` nodes for
``n >= 0`` and a single one otherwise):

* ``check_finishes_at_first_send``: the count is right and arrives with the
  very first ``send(None)`` -- neither version ever suspends.
* ``check_driver``: the article's send-until-StopIteration driver returns the
  count, with no event loop anywhere.
* ``check_driver_agrees_with_await``: ...and agrees with a plain ``await``
  inside whatever event loop runs the check (trio in the tests).
* ``check_suspends_once_per_leaf``: variants whose leaves suspend once pass
  each suspension all the way out: suspensions == leaves == ``2**n``.
* ``check_not_interchangeable``: "equivalent" holds for what they compute and
  how they run under ``send``, not for how they may be used: ``await`` refuses
  a generator, ``yield from`` in a plain generator refuses a coroutine, and a
  finished coroutine refuses to be resumed where a generator just stops again.
* ``check_article_printout``: the article's two lines, addresses aside.

>>> from impl.binary import abinary, binary
>>> check_finishes_at_first_send(binary, 4)
>>> check_finishes_at_first_send(abinary, -1)
>>> nodes(5), leaves(5)
(63, 32)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Generator
from typing import Any

Resumable = Generator[Any, None, int] | Coroutine[Any, None, int]
Factory = Callable[[int], Resumable]
Driver = Callable[[Resumable], int]

ARTICLE_PRINTOUT = re.compile(
    r"<generator object binary at 0x[0-9a-fA-F]+> 63\n"
    r"<coroutine object abinary at 0x[0-9a-fA-F]+> 63\n\Z"
)


def nodes(n: int) -> int:
    """The article's result: nodes in a complete binary tree of height ``n``."""
    return (1 << (max(n, 0) + 1)) - 1  # 2**(n+1) - 1, kept an int for the type checker


def leaves(n: int) -> int:
    """How many leaves that tree has: how often a leaf-suspending variant suspends."""
    return 1 << max(n, 0)


def _drive_counting(cor: Resumable, limit: int) -> tuple[int, int]:
    """The specification's own driver: send None until StopIteration, counting."""
    for suspensions in range(limit + 1):
        try:
            cor.send(None)
        except StopIteration as stop:
            value: int = stop.value
            return value, suspensions
    cor.close()
    raise AssertionError(f"{cor!r} suspended more than {limit} times")


def check_finishes_at_first_send(factory: Factory, n: int) -> None:
    """One ``send(None)`` and it is done, with the count as its value."""
    value, suspensions = _drive_counting(factory(n), leaves(n) * 2)
    assert suspensions == 0, f"{factory.__name__}({n}) suspended {suspensions} times, not 0"
    assert value == nodes(n), f"{factory.__name__}({n}) returned {value}, expected {nodes(n)}"


def check_driver(run: Driver, factory: Factory, n: int) -> None:
    """The driver runs either kind of coroutine to its value, loop or no loop."""
    value = run(factory(n))
    assert value == nodes(n), f"run({factory.__name__}({n})) gave {value}, expected {nodes(n)}"


async def check_driver_agrees_with_await(
    run: Driver, abinary: Callable[[int], Coroutine[Any, Any, int]], n: int
) -> None:
    """Driving by hand gives what ``await`` gives under a real event loop."""
    awaited = await abinary(n)
    driven = run(abinary(n))
    assert driven == awaited == nodes(n), f"n={n}: driven {driven}, awaited {awaited}"


def check_suspends_once_per_leaf(factory: Factory, n: int) -> None:
    """Every leaf's suspension reaches the driver, and nothing else suspends."""
    value, suspensions = _drive_counting(factory(n), leaves(n) * 4)
    name = f"{factory.__name__}({n})"
    assert value == nodes(n), f"{name} returned {value}, expected {nodes(n)}"
    assert suspensions == leaves(n), f"{name} suspended {suspensions} times, not {leaves(n)}"


def _failure(action: Callable[[], object]) -> BaseException | None:
    try:
        action()
    except BaseException as exc:  # the caller says which exception it wanted
        return exc
    return None


def check_not_interchangeable(
    binary: Callable[[int], Generator[Any, None, int]],
    abinary: Callable[[int], Coroutine[Any, None, int]],
) -> None:
    """Where the two differ, in spite of the article's "equivalent"."""

    async def awaiting_a_generator() -> Any:
        return await binary(1)  # type: ignore[misc]  # the mistake being specified

    refused = _failure(lambda: awaiting_a_generator().send(None))
    assert isinstance(refused, TypeError), f"await on a generator gave {refused!r}"
    assert "await" in str(refused), f"await on a generator: {refused!r}"

    coroutine = abinary(1)

    def yielding_from_a_coroutine() -> Generator[Any, None, Any]:
        return (yield from coroutine)  # type: ignore[misc]  # the mistake being specified

    refused = _failure(lambda: next(yielding_from_a_coroutine()))
    coroutine.close()  # never started: close it so it is not reported as never awaited
    assert isinstance(refused, TypeError), f"yield from a coroutine gave {refused!r}"
    assert "yield from" in str(refused), f"yield from a coroutine: {refused!r}"

    generator, native = binary(1), abinary(1)
    _drive_counting(generator, 0)
    _drive_counting(native, 0)
    again = _failure(lambda: generator.send(None))
    assert type(again) is StopIteration, f"a finished generator resent gave {again!r}"
    again = _failure(lambda: native.send(None))
    assert isinstance(again, RuntimeError), f"a finished coroutine resent gave {again!r}"
    assert "cannot reuse already awaited coroutine" in str(again), f"{again!r}"


def check_article_printout(output: str) -> None:
    """``python -m impl.binary`` prints the article's lines, whatever the addresses."""
    assert ARTICLE_PRINTOUT.match(output), f"printed {output!r}, not the article's two lines"
