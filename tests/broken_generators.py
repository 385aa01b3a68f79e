"""Deliberately broken implementations, each wrong in one plausible way.

A specification that accepts everything is worthless; each of these must be
rejected by the check named in its docstring
(tests/test_spec_rejects_broken_generators.py makes sure of it). Each is the
correct implementation with one mistake, so a rejection pins down that mistake.
"""

from __future__ import annotations

import contextlib
import functools
import time

from impl import pep380
from impl.binary import Suspend
from impl.coroutine_trace import DESTROYED, RESUMED
from impl.power import RESTART, cubes, cubes_with_return, squares, squares_with_return

# -- The coroutine trace (spec.coroutine_trace) -----------------------------


def coroutine_announcing_after_yield(items, *, emit=print, sleep=time.sleep, delay=0.5):
    """check_trace: "resumed" and the yield swapped, so "suspended" comes first."""
    for x in items:
        sleep(delay)
        yield x
        emit(RESUMED)
    emit(DESTROYED)


def coroutine_never_destroyed(items, *, emit=print, sleep=time.sleep, delay=0.5):
    """check_trace: the last line is missing."""
    for x in items:
        emit(RESUMED)
        sleep(delay)
        yield x


def coroutine_destroyed_in_finally(items, *, emit=print, sleep=time.sleep, delay=0.5):
    """check_destroyed_means_exhausted: "fixes" the article's word, changing its program."""
    try:
        for x in items:
            emit(RESUMED)
            sleep(delay)
            yield x
    finally:
        emit(DESTROYED)


def coroutine_sleeping_after_yield(items, *, emit=print, sleep=time.sleep, delay=0.5):
    """check_article_timing: same trace, but the computation is in the wrong turn."""
    for x in items:
        emit(RESUMED)
        yield x
        sleep(delay)
    emit(DESTROYED)


# -- power_coroutine (spec.delegation) --------------------------------------


def power_coroutine_skipping_a_restart(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_refactor_preserves_behaviour: the first restart is not announced."""
    for z in range(repeats):
        if z:
            emit(RESTART)
        yield from squares(squares_of)
        yield from cubes(cubes_of)


def power_coroutine_cubes_first(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_refactor_preserves_behaviour: the two delegations in the wrong order."""
    for _ in range(repeats):
        emit(RESTART)
        yield from cubes(cubes_of)
        yield from squares(squares_of)


def power_coroutine_reporting_late(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_returns_arrive_in_order: both messages printed after the cubes."""
    for _ in range(repeats):
        emit(RESTART)
        msg_from_squares = yield from squares_with_return(squares_of)
        msg_from_cubes = yield from cubes_with_return(cubes_of)
        emit(msg_from_squares)
        emit(msg_from_cubes)


def power_coroutine_reporting_nothing(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_returns_arrive_in_order: prints what a plain subgenerator returns: None."""
    for _ in range(repeats):
        emit(RESTART)
        emit((yield from squares(squares_of)))
        emit((yield from cubes(cubes_of)))


def power_coroutine_looping_instead(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_refactor_without_yield_from_fails: a for loop re-yields, so it works."""
    for _ in range(repeats):
        emit(RESTART)
        for x in squares(squares_of):
            yield x
        for y in cubes(cubes_of):
            yield y


def power_function_draining_subgenerators(*, squares_of=(), cubes_of=(), repeats=3, emit=print):
    """check_refactor_without_yield_from_fails: runs the bodies the article never runs."""
    for _ in range(repeats):
        emit(RESTART)
        list(squares(squares_of))
        list(cubes(cubes_of))


# -- binary and abinary (spec.binary) ---------------------------------------


def binary_off_by_one(n):
    """check_finishes_at_first_send: forgets to count the node itself."""
    if n <= 0:
        return 1
    l = yield from binary_off_by_one(n - 1)  # noqa: E741
    r = yield from binary_off_by_one(n - 1)
    return l + r


async def abinary_base_case_too_low(n):
    """check_finishes_at_first_send: ``n < 0`` for ``n <= 0``, wrong from n = 0 up."""
    if n < 0:
        return 1
    l = await abinary_base_case_too_low(n - 1)  # noqa: E741
    r = await abinary_base_case_too_low(n - 1)
    return l + 1 + r


async def abinary_suspending(n):
    """check_finishes_at_first_send: suspends at its leaves, unlike the article's."""
    if n <= 0:
        await Suspend()
        return 1
    l = await abinary_suspending(n - 1)  # noqa: E741
    r = await abinary_suspending(n - 1)
    return l + 1 + r


def binary_leaves_suspending_twice(n):
    """check_suspends_once_per_leaf: every leaf yields twice."""
    if n <= 0:
        yield
        yield
        return 1
    l = yield from binary_leaves_suspending_twice(n - 1)  # noqa: E741
    r = yield from binary_leaves_suspending_twice(n - 1)
    return l + 1 + r


class NoSuspend:
    """An awaitable that never yields: ``__await__`` is a generator that just returns."""

    def __await__(self):
        return
        yield  # makes this a generator function


async def abinary_leaves_never_suspending(n):
    """check_suspends_once_per_leaf: awaits something that does not yield."""
    if n <= 0:
        await NoSuspend()
        return 1
    l = await abinary_leaves_never_suspending(n - 1)  # noqa: E741
    r = await abinary_leaves_never_suspending(n - 1)
    return l + 1 + r


def run_returning_last_yield(cor):
    """check_driver: returns what was sent back last instead of StopIteration.value."""
    last = None
    try:
        while True:
            last = cor.send(None)
    except StopIteration:
        return last


# -- The PEP 380 expansion (spec.pep380) ------------------------------------


class ExpansionDroppingThrow(pep380.Expansion):
    """Raises a thrown exception in the delegator instead of passing it down."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            return super().on_throw(exc)
        raise exc


class ExpansionLosingReturnValue(pep380.Expansion):
    """``yield from`` always evaluates to None."""

    def start(self):
        return self._forget(super().start())

    def on_send(self, sent):
        return self._forget(super().on_send(sent))

    def on_throw(self, exc):
        return self._forget(super().on_throw(exc))

    @staticmethod
    def _forget(step):
        return pep380.Returned(None) if isinstance(step, pep380.Returned) else step


class ExpansionNeverClosing(pep380.Expansion):
    """On close(), leaves the subiterator suspended."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            raise exc
        return super().on_throw(exc)


class ExpansionThrowingGeneratorExit(pep380.Expansion):
    """Passes GeneratorExit down by throw() rather than close()."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            try:
                return pep380.Yielded(self._i.throw(exc))
            except StopIteration as stop:
                return pep380.Returned(stop.value)
        return super().on_throw(exc)


class ExpansionResumingAfterClose(pep380.Expansion):
    """PEP 380's rejected idea: after closing the subiterator, carry on instead."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            self._i.close()
            return pep380.Returned(None)
        return super().on_throw(exc)


class ExpansionAlwaysSending(pep380.Expansion):
    """Uses send(None) instead of next(), which plain iterators do not have."""

    def on_send(self, sent):
        try:
            return pep380.Yielded(self._i.send(sent))
        except StopIteration as stop:
            return pep380.Returned(stop.value)


class ExpansionSkippingIter(pep380.Expansion):
    """Treats the iterable as its own iterator: fine for generators, not for lists."""

    def __init__(self, expr):
        self._i = expr


class ExpansionSwallowingCloseErrors(pep380.Expansion):
    """Hides what the subiterator's close() raised (e.g. "ignored GeneratorExit")."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            with contextlib.suppress(Exception):  # the bug
                self._i.close()
            raise exc
        return super().on_throw(exc)


class ExpansionYieldingWhatThrowReturned(pep380.Expansion):
    """Forgets that throw() may end the subiterator: its return value is lost."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            return super().on_throw(exc)
        return pep380.Yielded(self._i.throw(exc))


class ExpansionClosingAnyIterator(pep380.Expansion):
    """Calls close() on the subiterator without asking whether it has one."""

    def on_throw(self, exc):
        if isinstance(exc, GeneratorExit):
            self._i.close()
            raise exc
        return super().on_throw(exc)


class Variant:
    """``impl.pep380`` with one ``Expansion`` swapped for a broken one."""

    def __init__(self, expansion):
        self.expansion = expansion
        self.expanded = functools.partial(pep380.expanded, expansion=expansion)
        self.yield_from = pep380.yield_from

    def __repr__(self):
        return f"Variant({self.expansion.__name__})"


BROKEN_EXPANSIONS = [
    Variant(expansion)
    for expansion in (
        ExpansionDroppingThrow,
        ExpansionLosingReturnValue,
        ExpansionNeverClosing,
        ExpansionThrowingGeneratorExit,
        ExpansionResumingAfterClose,
        ExpansionAlwaysSending,
        ExpansionSkippingIter,
        ExpansionSwallowingCloseErrors,
    )
]
