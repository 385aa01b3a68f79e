"""The article's ``binary`` and ``abinary``, their driver, and suspending variants.

``binary`` (a generator-based coroutine) and ``abinary`` (a native one) count
the nodes of a complete binary tree of height ``n``: ``2**(n+1) - 1``. Neither
ever suspends: the only thing they delegate to is each other, down to leaves
that return at once, so the driver's first ``send(None)`` finishes them.

To see delegation carry a suspension all the way out, ``binary_leaves`` and
``abinary_leaves`` suspend once at every leaf: once with a bare ``yield``, once
by awaiting ``Suspend()``, an awaitable whose ``__await__`` yields once. Both
still return the same count, after exactly one suspension per leaf.

Run ``python -m impl.binary`` for the article's printout (addresses differ).

>>> run(binary(3)), run(abinary(3))
(15, 15)
>>> run_counting(abinary_leaves(3))
(15, 8)
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import TypeVar

R = TypeVar("R")

Resumable = Generator[object, None, R] | Coroutine[object, None, R]


def binary(n: int) -> Generator[None, None, int]:
    """Generator-based: recursion by ``yield from``."""
    if n <= 0:
        return 1
    l = yield from binary(n - 1)  # noqa: E741 -- the article's name
    r = yield from binary(n - 1)
    return l + 1 + r


async def abinary(n: int) -> int:
    """Native: the same text with ``await`` for ``yield from`` and ``async`` before ``def``."""
    if n <= 0:
        return 1
    l = await abinary(n - 1)  # noqa: E741 -- the article's name
    r = await abinary(n - 1)
    return l + 1 + r


def binary_leaves(n: int) -> Generator[None, None, int]:
    """Like ``binary``, but each leaf suspends once before returning."""
    if n <= 0:
        yield
        return 1
    l = yield from binary_leaves(n - 1)  # noqa: E741
    r = yield from binary_leaves(n - 1)
    return l + 1 + r


class Suspend:
    """An awaitable that suspends its whole ``await`` chain exactly once.

    A native coroutine cannot ``yield``; it can only await something whose
    ``__await__`` iterator yields. This is the smallest such thing.
    """

    def __await__(self) -> Generator[None, None, None]:
        yield


async def abinary_leaves(n: int) -> int:
    """Like ``abinary``, but each leaf suspends once before returning."""
    if n <= 0:
        await Suspend()
        return 1
    l = await abinary_leaves(n - 1)  # noqa: E741
    r = await abinary_leaves(n - 1)
    return l + 1 + r


def run_counting(cor: Resumable[R]) -> tuple[R, int]:
    """Send None until StopIteration; return its value and how often it suspended.

    No event loop is involved: this is the article's point that async/await
    is independent of asyncio.
    """
    suspensions = 0
    try:
        cor.send(None)
        while True:
            suspensions += 1
            cor.send(None)
    except StopIteration as stop:
        value: R = stop.value
        return value, suspensions


def run(cor: Resumable[R]) -> R:
    """The article's driver: send None until StopIteration, return its value."""
    return run_counting(cor)[0]


def main() -> None:
    """Print the article's two lines, in the article's way."""
    cors: list[Resumable[int]] = [binary(5), abinary(5)]
    for cor in cors:
        try:
            while True:
                cor.send(None)
        except StopIteration as e:
            print(cor, e.value)


if __name__ == "__main__":
    main()
