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

The check. A *program* is a scripted delegating generator: its steps yield,
return, raise, delegate to a child (a scripted subgenerator, a plain iterator
with no send/throw/close, or another scripted delegator), and may catch what
reaches them (then continue, return, re-raise, or raise something else). Each
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
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# -- Programs ---------------------------------------------------------------

Then = Literal["continue", "return", "reraise", "raise"]


@dataclass(frozen=True)
class Catch:
    """Which exceptions a step catches, and what it does next."""

    catches: tuple[type[BaseException], ...] = ()
    then: Then = "continue"
    value: int = -1  # what "return" returns


NO_CATCH = Catch()


@dataclass(frozen=True)
class Yield:
    """Yield ``value`` and log what comes back."""

    value: int
    catch: Catch = NO_CATCH


@dataclass(frozen=True)
class Return:
    """Return ``value``: the value of the delegating ``yield from``."""

    value: int


@dataclass(frozen=True)
class Raise:
    """Raise ``exc_type(arg)``; StopIteration turns into RuntimeError (PEP 479)."""

    exc_type: type[BaseException]
    arg: str = "scripted"


@dataclass(frozen=True)
class Leaf:
    """A subgenerator that delegates to nothing; shared by every flavour."""

    steps: tuple[Yield | Return | Raise, ...]


@dataclass(frozen=True)
class PlainIterator:
    """A subiterator without ``send``, ``throw`` or ``close``: a list iterator."""

    values: tuple[int, ...]


@dataclass(frozen=True)
class Delegate:
    """Delegate to ``child`` and log its result."""

    child: Leaf | PlainIterator | Delegator
    catch: Catch = NO_CATCH


@dataclass(frozen=True)
class Delegator:
    """A delegating generator; built with the delegation syntax of each flavour."""

    steps: tuple[Yield | Return | Raise | Delegate, ...]


# -- Calls made on a program --------------------------------------------------


@dataclass(frozen=True)
class Next:
    """``next(g)``; for a coroutine, which has no ``__next__``, ``send(None)``."""


@dataclass(frozen=True)
class Send:
    value: int


@dataclass(frozen=True)
class Throw:
    exc_type: type[BaseException]
    arg: str = "thrown"


@dataclass(frozen=True)
class Close:
    pass


Action = Next | Send | Throw | Close
Outcome = tuple[object, ...]


# -- Running programs -------------------------------------------------------

Event = tuple[str, str, object]


@dataclass
class Run:
    """One flavour's run of one program: its log and every object it made."""

    log: list[Event] = field(default_factory=list)
    made: list[Any] = field(default_factory=list)

    def note(self, path: str, what: str, detail: object) -> None:
        self.log.append((path, what, detail))

    def track(self, obj: Any) -> Any:
        self.made.append(obj)
        return obj


def _caught(run: Run, path: str, catch: Catch, exc: BaseException) -> int | None:
    """Log a catch and do what the script says; None means carry on."""
    run.note(path, "caught", type(exc).__name__)
    if catch.then == "reraise":
        raise exc
    if catch.then == "raise":
        raise LookupError(path)
    return catch.value if catch.then == "return" else None


def _end(step: Return | Raise) -> int:
    """The value a ``Return`` step returns; a ``Raise`` step raises instead."""
    if isinstance(step, Raise):
        raise step.exc_type(step.arg)
    return step.value


# The interpreters below share one shape; only the suspension differs (plain
# ``yield``, ``yield from``, ``yield impl.yield_from(...)`` or ``await``), and
# that has to be written in the body of the function that suspends.


def leaf(script: Leaf, run: Run, path: str) -> Generator[int, Any, int | None]:
    """The one subgenerator implementation, used unchanged by every flavour."""
    for step in script.steps:
        if not isinstance(step, Yield):
            return _end(step)
        try:
            received = yield step.value
        except step.catch.catches as exc:
            if (value := _caught(run, path, step.catch, exc)) is not None:
                return value
        else:
            run.note(path, "received", received)
    return None


class PurePythonYieldFrom(Protocol):
    """The implementation under test: ``impl.pep380`` or a broken variant."""

    @property
    def expanded(
        self,
    ) -> Callable[
        [Callable[..., Generator[Any, Any, Any]]], Callable[..., Generator[Any, Any, Any]]
    ]:
        """Turn a body that yields ``yield_from(x)`` into a delegating generator."""

    @property
    def yield_from(self) -> Callable[[Iterable[Any]], object]:
        """Mark ``x`` to be delegated to, in place of ``yield from x``."""


def _program(
    script: Delegator, run: Run, path: str, impl: PurePythonYieldFrom | None
) -> Generator[Any, Any, Any]:
    """The program as a generator: native ``yield from`` when ``impl`` is None,
    else ``yield impl.yield_from(x)``, to be wrapped in ``impl.expanded``."""
    for index, step in enumerate(script.steps):
        if isinstance(step, Return | Raise):
            return _end(step)
        try:
            if isinstance(step, Yield):
                event = ("received", (yield step.value))
            else:
                child, here = step.child, f"{path}.{index}"
                subiterator: Any = (
                    list(child.values)
                    if isinstance(child, PlainIterator)
                    else run.track(leaf(child, run, here))
                    if isinstance(child, Leaf)
                    else run.track(_program(child, run, here, None))
                    if impl is None
                    else run.track(impl.expanded(_program)(child, run, here, impl))
                )
                if impl is None:
                    event = ("result", (yield from subiterator))
                else:
                    event = ("result", (yield impl.yield_from(subiterator)))
        except step.catch.catches as exc:
            if (value := _caught(run, path, step.catch, exc)) is not None:
                return value
        else:
            run.note(path, *event)
    return None


class _AwaitIterator:
    """Make any iterator awaitable: ``await`` then delegates to it as yield from would."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._iterator = iterator

    def __await__(self) -> Generator[Any, Any, Any]:
        # CPython accepts any iterator here, generator or not.
        return self._iterator  # type: ignore[return-value]


class _YieldOnce:
    """A coroutine's only way to suspend with a value: await something that yields it."""

    def __init__(self, value: int) -> None:
        self._value = value

    def __await__(self) -> Generator[int, Any, Any]:
        return (yield self._value)


async def _awaiting(script: Delegator, run: Run, path: str) -> Any:
    """The same program as ``async def``, with ``await`` for ``yield from``."""
    for index, step in enumerate(script.steps):
        if isinstance(step, Return | Raise):
            return _end(step)
        try:
            if isinstance(step, Yield):
                event = ("received", await _YieldOnce(step.value))
            else:
                child, here = step.child, f"{path}.{index}"
                awaitable: Awaitable[Any] = (
                    _AwaitIterator(iter(list(child.values)))
                    if isinstance(child, PlainIterator)
                    else _AwaitIterator(run.track(leaf(child, run, here)))
                    if isinstance(child, Leaf)
                    else run.track(_awaiting(child, run, here))
                )
                event = ("result", await awaitable)
        except step.catch.catches as exc:
            if (value := _caught(run, path, step.catch, exc)) is not None:
                return value
        else:
            run.note(path, *event)
    return None


@dataclass(frozen=True)
class Flavour:
    """One way of writing delegation; ``start`` builds a program's top object."""

    name: str
    start: Callable[[Delegator, Run], Any]
    is_coroutine: bool = False
    comparable_after_thrown_stop_iteration: bool = True

    def retires_after(self, action: Action) -> bool:
        """Whether this flavour stops being comparable after ``action`` (see above)."""
        return (
            not self.comparable_after_thrown_stop_iteration
            and isinstance(action, Throw)
            and issubclass(action.exc_type, StopIteration)
        )


def _thrown_stop_iteration_is_raised_at_yield_from() -> bool:
    """Whether this interpreter follows the PEP when StopIteration is thrown past
    a plain iterator: raised at the ``yield from`` (and so a RuntimeError)."""

    def delegator() -> Generator[int, None, None]:
        yield from [1]

    generator = delegator()
    next(generator)
    try:
        generator.throw(StopIteration("probe"))
    except RuntimeError:
        return True
    except StopIteration:
        return False
    generator.close()
    return False


PEP380_STOPITERATION_HOLDS = _thrown_stop_iteration_is_raised_at_yield_from()

NATIVE = Flavour("native yield from", lambda program, run: _program(program, run, "top", None))
AWAIT = Flavour(
    "await",
    lambda program, run: _awaiting(program, run, "top"),
    is_coroutine=True,
    comparable_after_thrown_stop_iteration=False,
)


def expansion_flavour(impl: PurePythonYieldFrom) -> Flavour:
    """Programs built with the pure-Python expansion under test."""
    return Flavour(
        "PEP 380 expansion",
        lambda program, run: impl.expanded(_program)(program, run, "top", impl),
        comparable_after_thrown_stop_iteration=PEP380_STOPITERATION_HOLDS,
    )


def standard_flavours(impl: PurePythonYieldFrom) -> list[Flavour]:
    """Native ``yield from`` (the reference), the expansion under test, ``await``."""
    return [NATIVE, expansion_flavour(impl), AWAIT]


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
