"""The article's first example: a generator and its caller taking turns.

The article prints three kinds of events. Here the printing goes through
``emit`` and the "computation" through ``sleep``, so that a test can record
the trace as a list and skip the waiting, while the defaults reproduce the
article's program exactly.

Run ``python -m impl.coroutine_trace`` to see the article's output with the
article's sleeps (0.5 s in the coroutine, 0.25 s in the caller; 2.25 s in all),
or ``python -m impl.coroutine_trace --no-sleep`` for the same output at once.

>>> trace: list[str] = []
>>> caller([1, 2], emit=trace.append, delays=NO_DELAYS)
>>> trace  # doctest: +NORMALIZE_WHITESPACE
['resumed coroutine', 'suspended coroutine',
 'resumed coroutine', 'suspended coroutine', 'destroyed coroutine']
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import NamedTuple

Emit = Callable[[str], object]
Sleep = Callable[[float], object]

RESUMED = "resumed coroutine"
SUSPENDED = "suspended coroutine"
DESTROYED = "destroyed coroutine"


class Delays(NamedTuple):
    """How long each side pretends to compute, in seconds."""

    coroutine: float
    caller: float


ARTICLE_DELAYS = Delays(coroutine=0.5, caller=0.25)
NO_DELAYS = Delays(coroutine=0.0, caller=0.0)
ARTICLE_ITEMS = (1, 2, 3)


def coroutine(
    items: Iterable[object] = ARTICLE_ITEMS,
    *,
    emit: Emit = print,
    sleep: Sleep = time.sleep,
    delay: float = ARTICLE_DELAYS.coroutine,
) -> Generator[object, None, None]:
    """Announce each resumption before yielding; announce the end after the loop.

    "destroyed" is the article's word, but the line runs only when the loop is
    exhausted: a generator closed early (or collected) never prints it.
    """
    for x in items:
        emit(RESUMED)
        sleep(delay)  # to represent some computation
        yield x
    emit(DESTROYED)


def caller(
    items: Iterable[object] = ARTICLE_ITEMS,
    *,
    emit: Emit = print,
    sleep: Sleep = time.sleep,
    delays: Delays = ARTICLE_DELAYS,
    make_coroutine: Callable[..., Iterable[object]] = coroutine,
) -> None:
    """Drive the generator with a for loop, announcing each suspension.

    ``make_coroutine`` is a parameter so the specification can hand in a
    deliberately broken generator and watch the check reject it.
    """
    context = make_coroutine(items, emit=emit, sleep=sleep, delay=delays.coroutine)
    for _ in context:
        emit(SUSPENDED)
        sleep(delays.caller)  # to represent some computation


def main(argv: Sequence[str] | None = None, *, sleep: Sleep = time.sleep) -> None:
    """Print the article's trace; ``--no-sleep`` skips its 2.25 s of sleeping.

    ``sleep`` is a parameter for the reason ``caller``'s is: so that the
    specification can see the command line's sleeps without sleeping them.
    """
    parser = argparse.ArgumentParser(prog="python -m impl.coroutine_trace")
    parser.add_argument(
        "--no-sleep",
        action="store_true",
        help="same output as the article, without the article's sleeps",
    )
    args = parser.parse_args(argv)
    caller(sleep=sleep, delays=NO_DELAYS if args.no_sleep else ARTICLE_DELAYS)


if __name__ == "__main__":
    main()
