"""Claim: ``await`` is ``yield from`` underneath; the loop sees the Futures at the chain's bottom.

Source, PEP 492 ("Await Expression"):

    ``await``, similarly to ``yield from``, suspends execution of
    ``read_data`` coroutine until ``db.fetch`` *awaitable* completes and
    returns the result data.

    It uses the ``yield from`` implementation with an extra step of
    validating its argument. [...] Any ``yield from`` chain of calls ends
    with a ``yield``. This is a fundamental mechanism of how *Futures* are
    implemented.

PEP 3156 ("Coroutines"): "``result = yield from future`` -- suspends the
coroutine until the future is done [...] Note that tasks are futures, and
everything said about futures also applies to tasks."

And the article: "Replace ``yield from`` with ``await`` and stick ``async``
keyword before ``def`` and we have python native coroutine." So a nested
chain of coroutines is one generator as far as its driver is concerned: no
frame in the middle sees the Future go by, and whatever the driver sends in
arrives at the bottom. ``drive`` below is the smallest such driver (the
article's ``send`` loop, plus resolving what it is handed):

>>> from spec.loop.subject import reference
>>> loop = reference()
>>> async def scenario() -> tuple[int, int, bool]:
...     def binary(n: int) -> object:  # the article's, verbatim but for the leaf
...         if n <= 0:
...             return (yield from leaf.__await__())
...         left = yield from binary(n - 1)
...         right = yield from binary(n - 1)
...         return left + 1 + right
...     async def abinary(n: int) -> int:
...         if n <= 0:
...             return await leaf
...         return await abinary(n - 1) + 1 + await abinary(n - 1)
...     leaf = loop.Future()
...     seen, generated = drive(binary(5), lambda f: f.set_result(1))
...     first_seen_is_leaf = seen == [leaf]
...     leaf = loop.Future()
...     seen, native = drive(abinary(5), lambda f: f.set_result(1))
...     return generated, native, first_seen_is_leaf and seen == [leaf]
>>> loop.run(scenario())
(63, 63, True)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any

from spec.loop.subject import FutureLike, LoopUnderTest, require


def drive(
    coroutine: Coroutine[Any, Any, Any] | Generator[Any, Any, Any],
    resolve: Callable[[Any], None],
    limit: int = 1000,
) -> tuple[list[object], Any]:
    """Run ``coroutine`` by hand: resolve each object it yields, then resume it.

    Returns what was yielded (what a loop would have seen) and the final
    result. Bounded: more than ``limit`` suspensions is an error.
    """
    seen: list[object] = []
    for _ in range(limit):
        try:
            yielded = coroutine.send(None)
        except StopIteration as stop:
            return seen, stop.value
        seen.append(yielded)
        resolve(yielded)
    coroutine.close()
    raise AssertionError(f"the coroutine was still suspending after {limit} steps")


def check_await_is_yield_from(loop: LoopUnderTest) -> None:
    """Through three native frames and through ``yield from``, the driver sees the leaf Futures."""

    async def scenario() -> None:
        first, second = loop.Future(), loop.Future()

        async def leaf(future: FutureLike) -> Any:
            return await future

        async def middle() -> Any:
            return await leaf(first) + await leaf(second)

        async def top() -> Any:
            return 10 * await middle()

        def resolve(yielded: object) -> None:
            leaves = {id(first): (first, 1), id(second): (second, 2)}
            if id(yielded) not in leaves:
                raise AssertionError(f"the driver was handed {yielded!r}, not a leaf Future")
            future, value = leaves[id(yielded)]
            future.set_result(value)

        seen, result = drive(top(), resolve)
        require(
            len(seen) == 2 and seen[0] is first and seen[1] is second,
            f"the driver saw {seen!r}, not the two leaf Futures themselves",
        )
        require(result == 30, f"the results did not travel back up the chain: got {result!r}")

        third = loop.Future()

        def generator_based() -> Generator[Any, Any, Any]:
            return (yield from third.__await__())

        def resolve_third(yielded: object) -> None:
            if yielded is not third:
                raise AssertionError(f"yield from handed the driver {yielded!r}, not the Future")
            third.set_result("same")

        seen, result = drive(generator_based(), resolve_third)
        require(
            seen == [third] and seen[0] is third and result == "same",
            f"yield from a Future's __await__ gave {seen!r} -> {result!r}",
        )

    loop.run(scenario())


def check_awaiting_a_task_yields_the_task(loop: LoopUnderTest) -> None:
    """A Task is a Future: awaiting a pending one hands the Task itself to the loop."""

    async def scenario() -> None:
        gate = loop.Future()

        async def child() -> str:
            await gate
            return "child's result"

        task = loop.Task(child())
        steps = task.__await__()
        yielded = next(steps)
        require(yielded is task, f"awaiting a pending Task yielded {yielded!r}, not the Task")
        steps.close()
        gate.set_result(None)
        await loop.sleep(1)  # not ``await task``: asyncio's Task remembers the peek above
        require(
            task.result() == "child's result",
            "the Task's result is not its coroutine's",
        )

    loop.run(scenario())
