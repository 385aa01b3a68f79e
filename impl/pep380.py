"""PEP 380's formal semantics of ``RESULT = yield from EXPR``, in plain Python.

The PEP defines ``yield from`` by an expansion into ordinary generator code.
That expansion cannot be a helper called with native ``yield from`` (that
would be circular), and it cannot be a plain function (its ``yield`` must
suspend the *delegating* generator). So it comes in two parts:

* ``Expansion`` holds the subiterator ``_i`` and has one method per branch of
  the PEP's code: ``start`` (the priming ``next``), ``on_send`` (the ``else``
  branch) and ``on_throw`` (the ``GeneratorExit`` and ``BaseException``
  branches). Each returns ``Yielded(_y)`` to go on or ``Returned(_r)`` to stop,
  or raises what the PEP raises at the ``yield from``.
* ``expanded`` turns a generator function written with
  ``result = yield yield_from(expr)`` in place of ``result = yield from expr``
  into one whose only suspension point is the expansion's ``_s = yield _y``.
  Its own plain ``yield`` statements are passed through by hand, so no native
  ``yield from`` is involved anywhere.

The specification drives a delegator built this way against one using native
``yield from`` and one using ``await``, and requires them to agree on every
observable. ``expansion`` is a parameter of ``expanded`` so that deliberately
broken expansions can be plugged in and shown to be caught.

One deliberate departure from the PEP's text: it rethrows with
``_m(*sys.exc_info())``; the three-argument form of ``throw`` is deprecated
since Python 3.12, so this passes the exception instance alone, which is what
CPython does itself.

>>> def subgenerator():
...     received = yield "ready"
...     return f"got {received}"
>>> @expanded
... def delegator():
...     result = yield yield_from(subgenerator())
...     yield result
>>> d = delegator()
>>> next(d)
'ready'
>>> d.send(42)
'got 42'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, NamedTuple, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Yielded(NamedTuple):
    """The subiterator produced ``_y``; the delegating generator yields it."""

    value: Any


class Returned(NamedTuple):
    """The subiterator stopped with ``_r``; that is the value of ``yield from``."""

    value: Any


Step = Yielded | Returned


class YieldFrom(NamedTuple):
    """The request a body yields where native code would write ``yield from``."""

    expr: Iterable[Any]


def yield_from(expr: Iterable[Any]) -> YieldFrom:
    """Spell ``yield from expr`` as ``yield yield_from(expr)`` inside ``@expanded``."""
    return YieldFrom(expr)


class Expansion:
    """One evaluation of the PEP's expansion against one subiterator."""

    def __init__(self, expr: Iterable[Any]) -> None:
        # ``_i = iter(EXPR)``: a plain iterable is accepted, as natively.
        self._i: Iterator[Any] = iter(expr)

    def start(self) -> Step:
        """Prime with ``next``; a subiterator may stop before yielding anything."""
        try:
            return Yielded(next(self._i))
        except StopIteration as stop:
            return Returned(stop.value)

    def on_send(self, sent: Any) -> Step:
        """Forward a value: None becomes ``next`` so plain iterators work too."""
        try:
            if sent is None:
                return Yielded(next(self._i))
            return Yielded(self._i.send(sent))  # type: ignore[attr-defined]
        except StopIteration as stop:
            return Returned(stop.value)

    def on_throw(self, exc: BaseException) -> Step:
        """Forward a thrown exception, or finalize the subiterator on GeneratorExit.

        GeneratorExit is not thrown into the subiterator but turned into its
        ``close()``, which insists that it finish: one that yields instead
        makes ``close()`` raise RuntimeError, and that, like anything else
        ``close()`` raises, propagates in the delegator; otherwise
        GeneratorExit is raised there. A subiterator without ``close`` or
        ``throw`` is simply bypassed.
        """
        if isinstance(exc, GeneratorExit):
            close = getattr(self._i, "close", None)
            if close is not None:
                close()
            raise exc
        throw = getattr(self._i, "throw", None)
        if throw is None:
            raise exc
        try:
            return Yielded(throw(exc))
        except StopIteration as stop:
            return Returned(stop.value)


def _drive(body: Generator[Any, Any, R], expansion: type[Expansion]) -> Generator[Any, Any, R]:
    """Run ``body``, expanding each ``YieldFrom`` it yields and relaying the rest.

    Whatever happens at a suspension point is handed back to ``body`` at the
    corresponding ``yield``: a sent value or result by ``send``, an exception
    (including one the expansion raises "at the yield from") by ``throw``.
    """
    resume: Callable[[Any], Any] = body.send
    argument: Any = None
    while True:
        try:
            request = resume(argument)
        except StopIteration as stop:
            result: R = stop.value
            return result
        if isinstance(request, YieldFrom):
            try:
                delegation = expansion(request.expr)
                step = delegation.start()
                while isinstance(step, Yielded):
                    try:
                        sent = yield step.value
                    except BaseException as exc:
                        step = delegation.on_throw(exc)
                    else:
                        step = delegation.on_send(sent)
            except BaseException as exc:
                resume, argument = body.throw, exc
            else:
                resume, argument = body.send, step.value
        else:
            try:
                sent = yield request
            except BaseException as exc:
                resume, argument = body.throw, exc
            else:
                resume, argument = body.send, sent


def expanded(
    genfunc: Callable[P, Generator[Any, Any, R]],
    *,
    expansion: type[Expansion] = Expansion,
) -> Callable[P, Generator[Any, Any, R]]:
    """Make ``yield yield_from(x)`` in ``genfunc`` behave as ``yield from x``."""

    @functools.wraps(genfunc)
    def delegating(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, R]:
        return _drive(genfunc(*args, **kwargs), expansion)

    return delegating
