"""The loop under test: the parts a check exercises, bundled so one can be swapped.

Every ``check_*`` function in ``spec.loop`` takes a ``LoopUnderTest`` (as trio's
``check_two_way_stream`` takes a stream factory), runs its scenario on it, and
raises ``AssertionError`` naming what differed. ``reference()`` bundles
``impl.loop``; a test builds a broken variant with ``dataclasses.replace``.

``run`` must give every call a fresh *virtual* clock starting at 0, so that
checks can assert exact wake-up times and sleep for hours in no time.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class FutureLike(Protocol):
    """PEP 3156's Future interface, less what the checks do not use."""

    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> Any: ...
    def exception(self) -> BaseException | None: ...
    def set_result(self, value: Any, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...
    def cancel(self) -> bool: ...
    def add_done_callback(self, callback: Callable[[Any], object], /) -> None: ...
    def remove_done_callback(self, callback: Callable[[Any], object], /) -> int: ...
    def __await__(self) -> Generator[Any, None, Any]: ...


class EventLike(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self) -> Awaitable[Any]: ...


class Runner(Protocol):
    """``run(main)``: run a coroutine on a new loop with a fresh virtual clock."""

    def __call__(self, main: Coroutine[Any, Any, T], /) -> T: ...


@dataclass(frozen=True)
class LoopUnderTest:
    """An event loop's primitives, as the checks see them."""

    name: str
    run: Runner
    Future: Callable[[], FutureLike]
    Task: Callable[[Coroutine[Any, Any, Any]], FutureLike]
    Event: Callable[[], EventLike]
    sleep: Callable[[float], Awaitable[None]]
    now: Callable[[], float]
    CancelledError: type[BaseException]
    InvalidStateError: type[BaseException]
    recv: Callable[[socket.socket, int], Awaitable[bytes]]
    sendall: Callable[[socket.socket, bytes], Awaitable[None]]
    accept: Callable[[socket.socket], Awaitable[tuple[socket.socket, Any]]]


def require(condition: bool, message: str) -> None:
    """``assert`` that survives ``python -O``: the checks are the specification."""
    if not condition:
        raise AssertionError(message)


def reference() -> LoopUnderTest:
    """``impl.loop``, the reference implementation, ready for the checks.

    >>> loop = reference()
    >>> async def main() -> float:
    ...     await loop.sleep(2.5)
    ...     return loop.now()
    >>> loop.run(main())
    2.5
    """
    import impl.loop as ours

    def run(main: Coroutine[Any, Any, T], /) -> T:
        return ours.run(main, clock=ours.VirtualClock())

    return LoopUnderTest(
        name="impl.loop",
        run=run,
        Future=ours.Future,
        Task=ours.Task,
        Event=ours.Event,
        sleep=ours.sleep,
        now=ours.now,
        CancelledError=ours.CancelledError,
        InvalidStateError=ours.InvalidStateError,
        recv=ours.recv,
        sendall=ours.sendall,
        accept=ours.accept,
    )
