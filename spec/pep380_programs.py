"""The programs of the PEP 380 check, and the three flavours that build them.

``spec.pep380`` states the claim and drives the comparison; this module holds
what it compares: a *program* is a scripted delegating generator (its steps
yield, return, raise, delegate to a child, and may catch what reaches them),
and a *flavour* is one way of writing the delegation -- native ``yield from``,
the pure-Python expansion under test, or ``async def`` with ``await``. Every
flavour logs what its scripts saw into a ``Run``, so that runs can be compared
event by event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
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
        """Whether this flavour stops being comparable after ``action`` (see ``spec.pep380``)."""
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
