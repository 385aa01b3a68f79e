"""A generator and its caller take turns: the article's first example.

Source, the article, "Coroutines":

    "Turns out, we've been using coroutines all along when we used Python's
    lazy generators like range. Let's write a simple generator using Python's
    yield syntax to illustrate the point"

followed by ``coroutine()`` (print "resumed coroutine", sleep 0.5 s, yield,
for each of 1, 2, 3; then print "destroyed coroutine") and ``caller()`` (a
``for`` loop over it printing "suspended coroutine" and sleeping 0.25 s), and:

    "This prints:" resumed/suspended three times, then "destroyed coroutine".

PEP 342 is what makes a generator a coroutine in the first place: "Python's
generator functions are almost coroutines -- but not quite -- in that they
allow pausing execution to produce a value, but do not provide for values or
exceptions to be passed in when execution resumes."

Checks (each takes the implementation under test):

* ``check_trace``: for any items, the caller's loop over the coroutine records
  exactly ``resumed, suspended`` once per item and then ``destroyed`` -- the
  whole list compared at once, as CPython's test_pep380 compares its traces.
* ``check_values_interleave``: the coroutine announces each resumption before
  the value it yields, and yields the items in order.
* ``check_article_timing``: with the article's delays, the coroutine sleeps
  0.5 s after each "resumed" and the caller 0.25 s after each "suspended".
* ``check_destroyed_means_exhausted``: not in the article, but its word is
  misleading -- "destroyed coroutine" is printed when the loop runs out, not
  when the generator is destroyed: closed early, it never prints it.
* ``check_range_is_not_a_generator``: the article's "lazy generators like
  range" is not true: a range is a lazy *sequence*, not an iterator at all.
* ``check_article_items``: called without items, the coroutine goes over the
  article's ``[1, 2, 3]``.
* ``check_command_line``: ``python -m impl.coroutine_trace`` prints the
  article's output and sleeps the article's sleeps; ``--no-sleep`` prints the
  same and sleeps for no time at all.

>>> from impl.coroutine_trace import caller, coroutine
>>> check_trace(caller, coroutine, ["a", "b"])
>>> expected_trace(1)
['resumed coroutine', 'suspended coroutine', 'destroyed coroutine']
>>> check_range_is_not_a_generator()
"""

from __future__ import annotations

import collections.abc
import contextlib
import io
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Protocol

from impl.coroutine_trace import ARTICLE_DELAYS, NO_DELAYS, Delays

# The article's words, kept here rather than taken from the implementation.
RESUMED = "resumed coroutine"
SUSPENDED = "suspended coroutine"
DESTROYED = "destroyed coroutine"
ARTICLE_ITEMS = (1, 2, 3)

Emit = Callable[[str], object]
Sleep = Callable[[float], object]
ARTICLE_OUTPUT = """\
resumed coroutine
suspended coroutine
resumed coroutine
suspended coroutine
resumed coroutine
suspended coroutine
destroyed coroutine
"""


class Coroutine(Protocol):
    """The shape of ``impl.coroutine_trace.coroutine``."""

    def __call__(
        self, items: Iterable[object], *, emit: Emit, sleep: Sleep, delay: float
    ) -> Iterable[object]: ...


class Caller(Protocol):
    """The shape of ``impl.coroutine_trace.caller``."""

    def __call__(
        self,
        items: Iterable[object],
        *,
        emit: Emit,
        sleep: Sleep,
        delays: Delays,
        make_coroutine: Callable[..., Iterable[object]],
    ) -> None: ...


class Main(Protocol):
    """The shape of ``impl.coroutine_trace.main``: the command line, with its sleep exposed."""

    def __call__(self, argv: Sequence[str] | None = None, *, sleep: Sleep) -> None: ...


class DefaultCoroutine(Protocol):
    """``coroutine`` called without items: the article's program."""

    def __call__(self, *, emit: Emit, sleep: Sleep) -> Iterable[object]: ...


def expected_trace(n: int) -> list[str]:
    """What the article prints, for ``n`` items instead of three."""
    return [RESUMED, SUSPENDED] * n + [DESTROYED]


def _no_sleep(seconds: float) -> None:
    pass


def check_trace(caller: Caller, coroutine: Coroutine, items: Sequence[object]) -> None:
    """The whole trace of ``caller`` driving ``coroutine`` over ``items``."""
    trace: list[str] = []
    caller(items, emit=trace.append, sleep=_no_sleep, delays=NO_DELAYS, make_coroutine=coroutine)
    expected = expected_trace(len(items))
    assert trace == expected, f"for {len(items)} items the trace was {trace}, expected {expected}"


def check_values_interleave(coroutine: Coroutine, items: Sequence[object]) -> None:
    """Each value comes after its "resumed" and before the next one."""
    trace: list[object] = []
    for value in coroutine(items, emit=trace.append, sleep=_no_sleep, delay=0.0):
        trace.append(("yielded", value))
    expected: list[object] = []
    for x in items:
        expected += [RESUMED, ("yielded", x)]
    expected.append(DESTROYED)
    assert trace == expected, f"coroutine over {list(items)} went {trace}, expected {expected}"


def check_article_timing(caller: Caller, coroutine: Coroutine) -> None:
    """The article's program sleeps where the article says, as long as it says."""
    trace: list[object] = []

    def sleep(seconds: float) -> None:
        trace.append(("sleep", seconds))

    caller(
        ARTICLE_ITEMS,
        emit=trace.append,
        sleep=sleep,
        delays=ARTICLE_DELAYS,
        make_coroutine=coroutine,
    )
    turn = [RESUMED, ("sleep", 0.5), SUSPENDED, ("sleep", 0.25)]
    expected = turn * len(ARTICLE_ITEMS) + [DESTROYED]
    assert trace == expected, f"the article's program went {trace}, expected {expected}"


def check_destroyed_means_exhausted(
    coroutine: Coroutine, items: Sequence[object], taken: int
) -> None:
    """Closed after ``taken`` values (at most all of them), it never says "destroyed"."""
    if not 0 <= taken <= len(items):
        raise ValueError(f"cannot take {taken} of {len(items)} items")
    trace: list[str] = []
    generator = coroutine(items, emit=trace.append, sleep=_no_sleep, delay=0.0)
    assert isinstance(generator, Generator), f"{generator!r} is not a generator"
    for _ in range(taken):
        next(generator)
    generator.close()
    expected = [RESUMED] * taken
    assert trace == expected, f"closed after {taken} of {len(items)}: {trace}, expected {expected}"


def check_range_is_not_a_generator() -> None:
    """A range has no ``send``, no ``__next__``; it is reusable and sized."""
    lazy: object = range(3)  # typed as object: the point is what it is at run time
    assert not isinstance(lazy, collections.abc.Generator), f"{lazy!r} is a generator"
    assert not isinstance(lazy, collections.abc.Iterator), f"{lazy!r} is an iterator"
    assert isinstance(lazy, collections.abc.Sequence), f"{lazy!r} is not a sequence"
    assert list(lazy) == list(lazy), f"{lazy!r} is consumed by iterating it"


def check_article_items(coroutine: DefaultCoroutine) -> None:
    """Without items, the coroutine yields the article's ``for x in [1, 2, 3]``."""
    trace: list[str] = []
    values = list(coroutine(emit=trace.append, sleep=_no_sleep))
    assert values == list(ARTICLE_ITEMS), f"the article's coroutine yielded {values}"
    expected = [RESUMED] * len(ARTICLE_ITEMS) + [DESTROYED]
    assert trace == expected, f"the article's coroutine went {trace}, expected {expected}"


def check_command_line(main: Main) -> None:
    """The command line sleeps where the article does, or, with ``--no-sleep``, not at all."""
    article_sleeps = [ARTICLE_DELAYS.coroutine, ARTICLE_DELAYS.caller] * len(ARTICLE_ITEMS)
    for argv, expected in (([], article_sleeps), (["--no-sleep"], None)):
        slept: list[float] = []
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            main(argv, sleep=slept.append)
        assert printed.getvalue() == ARTICLE_OUTPUT, f"{argv} printed {printed.getvalue()!r}"
        if expected is None:
            assert not any(slept), f"with --no-sleep the program still slept {slept}"
        else:
            assert slept == expected, f"without --no-sleep it slept {slept}, expected {expected}"
