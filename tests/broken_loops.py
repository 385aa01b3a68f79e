"""Broken variants of impl.loop, each breaking one promise of spec.loop, and the check that says so.

Each variant is the reference loop with one part swapped (``dataclasses.replace``
on ``reference()``) and a subclass that gets exactly one thing wrong, the
way real event-loop bugs do: an off-by-one in who is woken, a missing state
check, a heap key without a tie-breaker.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import random
import socket
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import impl.loop as ours
from impl.loop.futures import Future, Task, get_running_loop
from impl.loop.timers import Timer, TimerHeap
from spec.loop import (
    await_chain,
    cancellation,
    events,
    futures,
    socket_waits,
    sockets,
    tasks,
    timers,
)
from spec.loop.subject import LoopUnderTest, reference

T = TypeVar("T")


# -- Events ---------------------------------------------------------------------


class OneWaiterEvent(ours.Event):
    """set() wakes the first waiter only (a notify() mistaken for notify_all())."""

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        if self._waiters:
            self._waiters.pop(0).set_result(None)


class LifoEvent(ours.Event):
    """set() wakes the waiters, last come first woken."""

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        waiters, self._waiters = self._waiters, []
        for waiter in reversed(waiters):
            waiter.set_result(None)


class ForgetfulEvent(ours.Event):
    """wait() ignores the flag and waits for the next set(), which may never come."""

    async def wait(self) -> None:
        waiter: Future[None] = Future()
        self._waiters.append(waiter)
        await waiter


# -- Futures --------------------------------------------------------------------


class TwiceFuture(Future[T]):
    """Resolves as often as it is told to, the last value winning."""

    def _finish(
        self, value: T | None, exception: BaseException | None, *, cancelled: bool = False
    ) -> None:
        self._done, self._cancelled = True, cancelled
        self._result, self._exception = value, exception
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            get_running_loop().call_soon(functools.partial(callback, self))


class EagerCallbackFuture(Future[T]):
    """Runs the done callbacks inside set_result() instead of scheduling them."""

    def _finish(
        self, value: T | None, exception: BaseException | None, *, cancelled: bool = False
    ) -> None:
        callbacks, self._callbacks = self._callbacks, []
        super()._finish(value, exception, cancelled=cancelled)
        for callback in callbacks:
            callback(self)


class LifoCallbackFuture(Future[T]):
    """Schedules the done callbacks in reverse order of registration."""

    def _finish(
        self, value: T | None, exception: BaseException | None, *, cancelled: bool = False
    ) -> None:
        self._callbacks.reverse()
        super()._finish(value, exception, cancelled=cancelled)


class AlwaysSuspendingFuture(Future[T]):
    """Yields to the loop even when it is already done."""

    def __await__(self) -> Generator[Any, None, T]:
        yield self
        return self.result()


class WrappingFuture(Future[T]):
    """Yields a wrapper instead of itself, so the loop never sees the Future."""

    def __await__(self) -> Generator[Any, None, T]:
        if not self.done():
            yield ("please wait for", self)
        return self.result()


# -- Tasks ----------------------------------------------------------------------


class SwallowingTask(Task[T]):
    """Turns its coroutine's exception into a result of None."""

    def _finish(
        self, value: T | None, exception: BaseException | None, *, cancelled: bool = False
    ) -> None:
        if isinstance(exception, Exception):
            exception = None
        super()._finish(value, exception, cancelled=cancelled)


class LateCancelTask(Task[T]):
    """Delivers the cancellation only when the awaited thing would have woken the task."""

    def cancel(self) -> bool:
        if self.done():
            return False
        self._must_cancel = True
        return True


class SilentCancelTask(Task[T]):
    """Closes the coroutine (GeneratorExit) instead of raising CancelledError in it."""

    def cancel(self) -> bool:
        if self.done():
            return False
        if self._unpark is not None:
            self._unpark_now()
        self._coro.close()
        return Future.cancel(self)


class FutureCancellingTask(Task[T]):
    """asyncio's way: cancelling the task also cancels the Future it awaits."""

    _awaiting: object = None

    def _park(self, request: object) -> None:
        self._awaiting = request
        super()._park(request)

    def cancel(self) -> bool:
        if isinstance(self._awaiting, Future) and not self.done():
            self._awaiting.cancel()
        return super().cancel()


class StaleWakeTask(Task[T]):
    """Resumes on any wake-up, even one that cancel() overtook."""

    def _wake(self) -> None:
        self._unpark = None
        self._step()


class RecancellingTask(Task[T]):
    """Keeps a cancellation pending after delivering it: every later await is cancelled too."""

    def _park(self, request: object) -> None:
        if self._must_cancel:
            self._loop.call_soon(functools.partial(self._step, ours.CancelledError()))
            return
        super()._park(request)


class EagerTask(Task[T]):
    """Runs the coroutine's first step inside the constructor."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        super().__init__(coro)
        self._step()


# -- Timers and clocks ------------------------------------------------------------


class LifoTieTimers(TimerHeap):
    """Breaks deadline ties last-in first-out (a negated sequence number)."""

    def push(self, deadline: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(callback)
        heapq.heappush(self._heap, (deadline, -next(self._sequence), timer))
        return timer


class ShuffledTieTimers(TimerHeap):
    """Breaks deadline ties at random (a seeded random key): unstable, like asyncio's heap."""

    def __init__(self) -> None:
        super().__init__()
        self._random = random.Random(862)

    def push(self, deadline: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(callback)
        heapq.heappush(self._heap, (deadline, self._random.randrange(1 << 30), timer))
        return timer


class LatestDeadlineTimers(TimerHeap):
    """Reports the latest deadline as the next one: every sleeper oversleeps to it."""

    def next_deadline(self) -> float | None:
        live = [deadline for deadline, _, timer in self._heap if not timer.cancelled]
        return max(live) if live else None


class OvershootingClock(ours.VirtualClock):
    """Jumps half a second past each deadline."""

    def wait(self, selector: Any, until: float | None) -> Any:
        if until is not None and until > self.now():
            until += 0.5
        return super().wait(selector, until)


def _runner(
    clock: Callable[[], ours.Clock] = ours.VirtualClock,
    timers: Callable[[], TimerHeap] = TimerHeap,
) -> Any:
    def run(main: Coroutine[Any, Any, T], /) -> T:
        return ours.run(main, clock=clock(), timers=timers())

    return run


# -- Sockets --------------------------------------------------------------------


async def one_shot_sendall(sock: socket.socket, data: bytes) -> None:
    """Calls send() once, as if a partial send could not happen."""
    while True:
        try:
            sock.send(data)
            return
        except BlockingIOError:
            await ours.wait_writable(sock)


async def dropping_sendall(sock: socket.socket, data: bytes) -> None:
    """Sends until the buffer is full, then forgets the rest."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            return


async def impatient_recv(sock: socket.socket, max_bytes: int) -> bytes:
    """Takes a wake-up with nothing to read for the end of the stream."""
    await ours.wait_readable(sock)
    try:
        return sock.recv(max_bytes)
    except BlockingIOError:
        return b""


# -- The catalogue ----------------------------------------------------------------


def _variant(name: str, **parts: Any) -> LoopUnderTest:
    return dataclasses.replace(reference(), name=name, **parts)


def _deadline_order(loop: LoopUnderTest) -> None:
    timers.check_sleepers_wake_in_deadline_order(loop, [3, 1, 2, 1, 2, 1, 1, 1, 1, 1])


def _small_sendall(loop: LoopUnderTest) -> None:
    sockets.check_sendall_delivers_every_byte(loop, size=256 * 1024)


Check = Callable[[LoopUnderTest], None]

BROKEN: list[tuple[LoopUnderTest, Check]] = [
    (
        _variant("Event waking one waiter", Event=OneWaiterEvent),
        events.check_event_wakes_every_waiter,
    ),
    (
        _variant("Event waking LIFO", Event=LifoEvent),
        events.check_event_wakes_waiters_in_fifo_order,
    ),
    (
        _variant("Event.wait ignoring the flag", Event=ForgetfulEvent),
        events.check_a_set_event_does_not_block,
    ),
    (_variant("Future resolving twice", Future=TwiceFuture), futures.check_future_resolves_once),
    (
        _variant("Future calling back eagerly", Future=EagerCallbackFuture),
        futures.check_done_callbacks_are_scheduled_in_order,
    ),
    (
        _variant("Future calling back LIFO", Future=LifoCallbackFuture),
        futures.check_done_callbacks_are_scheduled_in_order,
    ),
    (
        _variant("Future always suspending", Future=AlwaysSuspendingFuture),
        futures.check_awaiting_a_done_future_does_not_suspend,
    ),
    (
        _variant("Future yielding a wrapper", Future=WrappingFuture),
        await_chain.check_await_is_yield_from,
    ),
    (
        _variant("Task swallowing exceptions", Task=SwallowingTask),
        tasks.check_a_task_exception_reaches_every_awaiter,
    ),
    (_variant("Task starting eagerly", Task=EagerTask), tasks.check_a_task_starts_later_not_now),
    (
        _variant("cancel delivered late", Task=LateCancelTask),
        cancellation.check_cancel_raises_at_the_await_point,
    ),
    (
        _variant("cancel closing the coroutine", Task=SilentCancelTask),
        cancellation.check_cancel_raises_at_the_await_point,
    ),
    (
        _variant("cancel cancelling the awaited Future", Task=FutureCancellingTask),
        cancellation.check_cancel_leaves_the_awaited_future_alone,
    ),
    (_variant("timer ties LIFO", run=_runner(timers=LifoTieTimers)), _deadline_order),
    (_variant("timer ties shuffled", run=_runner(timers=ShuffledTieTimers)), _deadline_order),
    (_variant("timers oversleeping", run=_runner(timers=LatestDeadlineTimers)), _deadline_order),
    (
        _variant("virtual clock overshooting", run=_runner(clock=OvershootingClock)),
        timers.check_a_long_sleep_takes_no_real_time,
    ),
    (_variant("sendall sending once", sendall=one_shot_sendall), _small_sendall),
    (_variant("sendall dropping the tail", sendall=dropping_sendall), _small_sendall),
    (
        _variant("wake-up resuming a cancelled task", Task=StaleWakeTask),
        cancellation.check_cancel_overtakes_a_wake_up_already_on_its_way,
    ),
    (
        _variant("cancellation delivered again and again", Task=RecancellingTask),
        cancellation.check_one_cancel_is_one_cancelled_error,
    ),
    (
        _variant("recv taking a spurious wake-up for EOF", recv=impatient_recv),
        socket_waits.check_a_recv_woken_for_nothing_waits_again,
    ),
]
