"""PEP 380 in full: native ``yield from``, its formal expansion and ``await`` agree.

Sources. The article: "To allow refactoring of generators, PEP 380 introduced
yield from"; "Replace yield from with await and stick async keyword before def
and we have python native coroutine." PEP 380, "Proposal":

    * Any values sent to the delegating generator using ``send()`` are passed
      directly to the iterator. If the sent value is None, the iterator's
      ``__next__()`` method is called. If the sent value is not None, the
      iterator's ``send()`` method is called. [...]
    * Exceptions other than GeneratorExit thrown into the delegating generator
      are passed to the ``throw()`` method of the iterator. [...]
    * If a GeneratorExit exception is thrown into the delegating generator, or
      the ``close()`` method of the delegating generator is called, then the
      ``close()`` method of the iterator is called if it has one. [...]
    * The value of the ``yield from`` expression is the first argument to the
      ``StopIteration`` exception raised by the iterator when it terminates.

and its "Formal Semantics" section, which defines ``RESULT = yield from EXPR``
by an expansion (``impl.pep380`` transcribes it). PEP 492, "Await Expression":
``await`` "uses the yield from implementation with an extra step of
validating its argument".

The check (its programs and flavours live in ``spec.pep380_programs``). A
*program* is a scripted delegating generator: its steps yield, return, raise,
delegate to a child (a scripted subgenerator, a plain iterator with no
send/throw/close, or another scripted delegator), and may catch what reaches
them (then continue, return, re-raise, or raise something else). Each
program is built three ways -- with native ``yield from``, with the pure-Python
expansion under test, and as ``async def`` code using ``await`` -- and the
three are driven in lockstep by the same ``next``/``send``/``throw``/``close``
calls. After every call they must agree on: what the call produced (value
yielded, value returned, or exception type and args), the state of every
generator or coroutine the run created (created/suspended/closed), and the log
of everything the scripts saw (values received, exceptions caught, results of
delegation).

Three differences are part of the language, not bugs, and are allowed for:

* messages say "coroutine" where a generator's say "generator";
* a finished coroutine refuses to be resumed (RuntimeError "cannot reuse
  already awaited coroutine") where a finished generator raises StopIteration
  or the thrown exception;
* a coroutine cannot ``yield`` by itself: to suspend it must await something
  that yields. A StopIteration thrown in at such a point is raised inside that
  inner generator and turned into RuntimeError there (PEP 479) before the
  coroutine sees it, where a generator sees the StopIteration itself. This is
  PEP 380's own caveat ("Factored code may not behave the same way as
  unfactored code if a StopIteration exception is thrown into the delegating
  generator"), so the ``await`` flavour is retired from a session once
  StopIteration has been thrown; the other two go on being compared.

And one difference between CPython and the PEP, found by this check: on
CPython 3.12 and 3.13 (3.12.1 and 3.13.0 were tried), a StopIteration thrown
into a generator suspended in ``yield from`` over an iterator *without*
``throw()`` is taken as that iterator's return -- ``yield from`` evaluates to
its value -- where the expansion (and CPython 3.10 and 3.11) raise it at the
``yield from``, which PEP 479 then turns into RuntimeError. Where the running
interpreter does this (``PEP380_STOPITERATION_HOLDS`` is False, found by
trying it at import), the expansion is retired too once StopIteration has been
thrown.

Not compared: tracebacks, ``__context__``, and ``gi_yieldfrom``.

Also not true as written any more: PEP 380's "``return value`` is semantically
equivalent to ``raise StopIteration(value)``". Since PEP 479 (Python 3.7) the
latter becomes a RuntimeError.

>>> from impl import pep380
>>> program = Delegator((Delegate(Leaf((Yield(1), Return(7)))), Yield(2)))
>>> session = Session(program, standard_flavours(pep380))
>>> session.step(Next()).outcome
('yielded', 1)
>>> session.step(Send(5)).log
(('top.0', 'received', 5), ('top', 'result', 7))
>>> session.close()
>>> check_yield_from_equivalence(pep380, program, [Next(), Throw(ValueError)])
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spec.pep380_programs import (
    PEP380_STOPITERATION_HOLDS,
    Action,
    Catch,
    Close,
    Delegate,
    Delegator,
    Event,
    Flavour,
    Leaf,
    Next,
    Outcome,
    PlainIterator,
    PurePythonYieldFrom,
    Raise,
    Return,
    Run,
    Send,
    Throw,
    Yield,
    standard_flavours,
)

__all__ = [
    "PEP380_STOPITERATION_HOLDS",
    "Action",
    "Catch",
    "Close",
    "Delegate",
    "Delegator",
    "Event",
    "Flavour",
    "Leaf",
    "Next",
    "Observation",
    "Outcome",
    "PlainIterator",
    "PurePythonYieldFrom",
    "Raise",
    "Return",
    "Run",
    "Send",
    "Session",
    "Throw",
    "Yield",
    "check_yield_from_equivalence",
    "standard_flavours",
]

# -- Driving and comparing --------------------------------------------------


def _normalized(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.replace("coroutine", "generator") if isinstance(a, str) else a for a in args)


def _apply(action: Action, obj: Any, is_coroutine: bool) -> Outcome:
    """Perform one call and describe its result; a fresh exception per flavour."""
    try:
        if isinstance(action, Next):
            return ("yielded", obj.send(None) if is_coroutine else next(obj))
        if isinstance(action, Send):
            return ("yielded", obj.send(action.value))
        if isinstance(action, Throw):
            return ("yielded", obj.throw(action.exc_type(action.arg)))
        return ("closed", obj.close())
    except StopIteration as stop:
        return ("returned", stop.value)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return ("raised", type(exc).__name__, _normalized(exc.args))


def _state(obj: Any) -> str:
    """CREATED, SUSPENDED or CLOSED, whether ``obj`` is a generator or a coroutine."""
    if inspect.iscoroutine(obj):
        return inspect.getcoroutinestate(obj).removeprefix("CORO_")
    return inspect.getgeneratorstate(obj).removeprefix("GEN_")


@dataclass(frozen=True)
class Observation:
    """Everything one flavour showed after one call."""

    outcome: Outcome
    states: tuple[str, ...]
    log: tuple[Event, ...]


class Session:
    """One program, built in every flavour, driven in lockstep and compared.

    The first flavour is the reference. Every object a run creates is kept
    referenced until ``close``, so that no finalizer runs at a moment that
    depends on the flavour; ``close`` then finalizes them all.
    """

    def __init__(self, program: Delegator, flavours: Sequence[Flavour]) -> None:
        self.program = program
        self.flavours = list(flavours)
        self.runs = [Run() for _ in self.flavours]
        self.tops = [
            run.track(flavour.start(program, run))
            for flavour, run in zip(self.flavours, self.runs, strict=True)
        ]
        self.history: list[Action] = []
        self.retired: set[int] = set()

    @property
    def finished(self) -> bool:
        """The reference top-level generator has returned, raised or been closed."""
        return _state(self.tops[0]) == "CLOSED"

    def _active(self) -> list[int]:
        return [i for i in range(len(self.flavours)) if i not in self.retired]

    def _observe(self, action: Action, index: int) -> Observation:
        flavour, run = self.flavours[index], self.runs[index]
        outcome = _apply(action, self.tops[index], flavour.is_coroutine)
        return Observation(outcome, tuple(_state(o) for o in run.made), tuple(run.log))

    def _mismatch(self, index: int, what: str, got: object, expected: object) -> str:
        return (
            f"{self.flavours[index].name} differs from {self.flavours[0].name} in {what} "
            f"after {self.history} on {self.program}:\n  got      {got!r}\n"
            f"  expected {expected!r}"
        )

    def step(self, action: Action) -> Observation:
        """Make the same call on every flavour; all must observe the same things."""
        assert not self.finished, "step() is for running programs; see step_exhausted()"
        self.history.append(action)
        observed = {i: self._observe(action, i) for i in self._active()}
        reference = observed.pop(0)
        for index, other in observed.items():
            if self.flavours[index].retires_after(action):
                self.retired.add(index)
                continue
            for what in ("outcome", "states", "log"):
                got, expected = getattr(other, what), getattr(reference, what)
                assert got == expected, self._mismatch(index, what, got, expected)
        return reference

    def step_exhausted(self, action: Action) -> None:
        """After the end, generators stay quiet; a coroutine refuses to be reused."""
        assert self.finished, "step_exhausted() is for finished programs"
        self.history.append(action)
        reuse = ("raised", "RuntimeError", ("cannot reuse already awaited generator",))
        reference = self._observe(action, 0)
        for index in self._active()[1:]:
            flavour = self.flavours[index]
            got = self._observe(action, index)
            expected = (
                reuse
                if flavour.is_coroutine and not isinstance(action, Close)
                else reference.outcome
            )
            assert got.outcome == expected, self._mismatch(index, "outcome", got.outcome, expected)

    def run_to_completion(self, limit: int = 1000) -> None:
        """Call next() until the program ends, comparing every step on the way."""
        for _ in range(limit):
            if self.finished:
                return
            self.step(Next())
        raise AssertionError(f"{self.program} did not finish within {limit} calls to next()")

    def close(self) -> None:
        """Finalize every object of every run, whatever it does when closed."""
        for run in self.runs:
            for obj in reversed(run.made):
                for _ in range(1000):
                    if _state(obj) == "CLOSED":
                        break
                    with contextlib.suppress(Exception):  # a script may refuse; again
                        obj.close()


def check_yield_from_equivalence(
    impl: PurePythonYieldFrom, program: Delegator, actions: Iterable[Action]
) -> None:
    """Run ``program`` in every flavour through ``actions``, then to its end."""
    session = Session(program, standard_flavours(impl))
    try:
        for action in actions:
            if session.finished:
                session.step_exhausted(action)
            else:
                session.step(action)
        session.run_to_completion()
    finally:
        session.close()
