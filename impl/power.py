"""The article's ``power_coroutine``, in all four of its versions.

1. flat: one generator with both inner loops written out;
2. the refactor *without* ``yield from``, which the article says cannot work;
3. the refactor with ``yield from``;
4. ``yield from`` again, with the subgenerators returning a message that the
   delegating generator captures and prints.

The article hard-codes ``[1, 2, 3]`` for both inner loops, ``range(3)`` for the
repeats and ``print`` for the output; here they are parameters with those
defaults, so the specification can vary them and record what is printed.

Run ``python -m impl.power`` for the article's listing of version 4, or name a
version (``flat``, ``without-yield-from``, ``yield-from``, ``with-returns``).

>>> list(power_coroutine_yield_from(squares_of=[2], cubes_of=[2], repeats=1, emit=print))
==> restart
[4, 8]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Protocol

Emit = Callable[[object], object]
ARTICLE_BASES = (1, 2, 3)
ARTICLE_REPEATS = 3
RESTART = "==> restart"
SQUARES_DONE = "-> squares done"
CUBES_DONE = "-> cubes done"


class PowerCoroutine(Protocol):
    """What every version accepts; the specification varies these arguments."""

    def __call__(
        self,
        *,
        squares_of: Iterable[int] = ...,
        cubes_of: Iterable[int] = ...,
        repeats: int = ...,
        emit: Emit = ...,
    ) -> Iterable[int] | None: ...


def power_coroutine_flat(
    *,
    squares_of: Iterable[int] = ARTICLE_BASES,
    cubes_of: Iterable[int] = ARTICLE_BASES,
    repeats: int = ARTICLE_REPEATS,
    emit: Emit = print,
) -> Generator[int, None, None]:
    """Version 1: the baseline that the refactors must reproduce."""
    for _ in range(repeats):
        emit(RESTART)
        for x in squares_of:
            yield x**2
        for y in cubes_of:
            yield y**3


def squares(xs: Iterable[int] = ARTICLE_BASES) -> Generator[int, None, None]:
    """The first inner loop, factored out."""
    for x in xs:
        yield x**2


def cubes(ys: Iterable[int] = ARTICLE_BASES) -> Generator[int, None, None]:
    """The second inner loop, factored out."""
    for y in ys:
        yield y**3


def power_coroutine_without_yield_from(
    *,
    squares_of: Iterable[int] = ARTICLE_BASES,
    cubes_of: Iterable[int] = ARTICLE_BASES,
    repeats: int = ARTICLE_REPEATS,
    emit: Emit = print,
) -> None:
    """Version 2, kept because what it really does differs from the article.

    With no ``yield`` left this is an ordinary function: calling it runs the
    whole loop at once (every restart is printed), creates and drops the
    subgenerators without starting them, and returns None. The error comes
    afterwards, from the caller's ``for`` loop trying to iterate None.
    """
    for _ in range(repeats):
        emit(RESTART)
        squares(squares_of)
        cubes(cubes_of)


def power_coroutine_yield_from(
    *,
    squares_of: Iterable[int] = ARTICLE_BASES,
    cubes_of: Iterable[int] = ARTICLE_BASES,
    repeats: int = ARTICLE_REPEATS,
    emit: Emit = print,
) -> Generator[int, None, None]:
    """Version 3: ``yield from`` restores the generator that version 2 lost."""
    for _ in range(repeats):
        emit(RESTART)
        yield from squares(squares_of)
        yield from cubes(cubes_of)


def squares_with_return(xs: Iterable[int] = ARTICLE_BASES) -> Generator[int, None, str]:
    """The first inner loop, reporting back through ``StopIteration.value``."""
    for x in xs:
        yield x**2
    return SQUARES_DONE


def cubes_with_return(ys: Iterable[int] = ARTICLE_BASES) -> Generator[int, None, str]:
    """The second inner loop, reporting back through ``StopIteration.value``."""
    for y in ys:
        yield y**3
    return CUBES_DONE


def power_coroutine_with_returns(
    *,
    squares_of: Iterable[int] = ARTICLE_BASES,
    cubes_of: Iterable[int] = ARTICLE_BASES,
    repeats: int = ARTICLE_REPEATS,
    emit: Emit = print,
) -> Generator[int, None, None]:
    """Version 4: the value of ``yield from`` is what the subgenerator returned."""
    for _ in range(repeats):
        emit(RESTART)
        msg_from_squares = yield from squares_with_return(squares_of)
        emit(msg_from_squares)
        msg_from_cubes = yield from cubes_with_return(cubes_of)
        emit(msg_from_cubes)


VERSIONS: dict[str, PowerCoroutine] = {
    "flat": power_coroutine_flat,
    "without-yield-from": power_coroutine_without_yield_from,
    "yield-from": power_coroutine_yield_from,
    "with-returns": power_coroutine_with_returns,
}


def run(power_coroutine: PowerCoroutine, *, emit: Emit = print) -> None:
    """The article's driver: ``for x in power_coroutine(): print(x)``."""
    # Deliberately untyped iteration: the article iterates whatever it is given,
    # and version 2 gives None.
    for x in power_coroutine(emit=emit):  # type: ignore[union-attr]
        emit(x)


def main(argv: Sequence[str] | None = None) -> None:
    """Run one version the way the article does; version 2 ends in its TypeError."""
    parser = argparse.ArgumentParser(prog="python -m impl.power")
    parser.add_argument("version", nargs="?", default="with-returns", choices=sorted(VERSIONS))
    run(VERSIONS[parser.parse_args(argv).version])


if __name__ == "__main__":
    main()
