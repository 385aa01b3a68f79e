"""Three loops behind one small interface, so one interpreter can run a program on each.

The program interpreter (``spec.loop.programs``) needs: time, sleep, events,
futures, spawning, cancelling and joining tasks. Each runtime supplies them:

- ``SubjectRuntime`` wraps any ``LoopUnderTest``: ours, a broken variant, or
  asyncio on virtual time.
- ``AsyncioRuntime`` is asyncio with ``shield`` around every await of a
  Future or Task. Without it, cancelling a task that awaits a Future cancels
  the Future too (asyncio's ``Task.cancel`` cancels ``_fut_waiter``), which
  is not our semantics, nor trio's; with it, asyncio agrees with us.
- ``TrioRuntime`` is trio under ``MockClock(autojump_threshold=0)``. trio has
  no Future and no Task object, so both are emulated on ``trio.Event``: a
  task is a nursery child in its own ``CancelScope`` whose outcome is
  recorded, and joining it waits for a done-Event. Those emulations follow
  our semantics by construction; what trio contributes is its scheduler,
  its clock and its cancellation delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import trio
import trio.testing

from spec.loop import virtual_asyncio
from spec.loop.subject import LoopUnderTest

T = TypeVar("T")
Body = Callable[[], Coroutine[Any, Any, Any]]


class Runtime:
    """The interface; subclasses fill it in for one loop."""

    name = "?"
    cancelled: type[BaseException] = BaseException  # what a cancelled task sees at its await
    awaited_cancelled: type[BaseException] = BaseException  # what awaiting a cancelled thing raises
    invalid_state: type[BaseException] = BaseException  # resolving a done Future

    def run(self, main: Body) -> Any:
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def event(self) -> Any:
        raise NotImplementedError

    def future(self) -> Any:
        raise NotImplementedError

    async def await_future(self, future: Any) -> Any:
        raise NotImplementedError

    def spawn(self, body: Body) -> Any:
        raise NotImplementedError

    def cancel(self, task: Any) -> None:
        raise NotImplementedError

    def done(self, task: Any) -> bool:
        raise NotImplementedError

    async def join(self, task: Any) -> Any:
        raise NotImplementedError


class SubjectRuntime(Runtime):
    """A ``LoopUnderTest``, used as is."""

    def __init__(self, loop: LoopUnderTest) -> None:
        self.loop = loop
        self.name = loop.name
        self.cancelled = loop.CancelledError
        self.awaited_cancelled = loop.CancelledError
        self.invalid_state = loop.InvalidStateError

    def run(self, main: Body) -> Any:
        return self.loop.run(main())

    def now(self) -> float:
        return self.loop.now()

    async def sleep(self, seconds: float) -> None:
        await self.loop.sleep(seconds)

    def event(self) -> Any:
        return self.loop.Event()

    def future(self) -> Any:
        return self.loop.Future()

    async def await_future(self, future: Any) -> Any:
        return await future

    def spawn(self, body: Body) -> Any:
        return self.loop.Task(body())

    def cancel(self, task: Any) -> None:
        task.cancel()

    def done(self, task: Any) -> bool:
        return bool(task.done())

    async def join(self, task: Any) -> Any:
        return await task


class AsyncioRuntime(SubjectRuntime):
    """asyncio on virtual time; awaits are shielded so a waiter's cancel stays its own."""

    def __init__(self) -> None:
        super().__init__(virtual_asyncio.subject())

    async def await_future(self, future: Any) -> Any:
        return await asyncio.shield(future)

    async def join(self, task: Any) -> Any:
        return await asyncio.shield(task)


class AwaitedCancelled(Exception):
    """Raised by the trio emulations when the awaited Future or task was cancelled."""


class InvalidState(Exception):
    """Raised by the trio Future emulation when it is resolved twice."""


class _TrioFuture:
    def __init__(self) -> None:
        self._state = "pending"
        self._value: Any = None
        self._error: BaseException | None = None
        self._done = trio.Event()

    def _finish(self, state: str, value: Any, error: BaseException | None) -> None:
        if self._state != "pending":
            raise InvalidState(f"future already {self._state}")
        self._state, self._value, self._error = state, value, error
        self._done.set()

    def set_result(self, value: Any) -> None:
        self._finish("finished", value, None)

    def set_exception(self, error: BaseException) -> None:
        self._finish("finished", None, error)

    def cancel(self) -> bool:
        if self._state != "pending":
            return False
        self._finish("cancelled", None, None)
        return True

    def done(self) -> bool:
        return self._state != "pending"

    def cancelled(self) -> bool:
        return self._state == "cancelled"

    def exception(self) -> BaseException | None:
        return self._error

    async def wait(self) -> Any:
        await self._done.wait()
        if self._state == "cancelled":
            raise AwaitedCancelled()
        if self._error is not None:
            raise self._error
        return self._value


class _TrioTask:
    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.outcome = _TrioFuture()

    async def run(self, body: Body) -> None:
        with self.scope:
            try:
                value = await body()
            except Exception as error:
                self.outcome.set_exception(error)
            else:
                self.outcome.set_result(value)
        if not self.outcome.done():  # the scope swallowed trio.Cancelled
            self.outcome.cancel()


class TrioRuntime(Runtime):
    """trio with an autojumping MockClock; Futures and tasks emulated as described above."""

    name = "trio"
    cancelled = trio.Cancelled
    awaited_cancelled = AwaitedCancelled
    invalid_state = InvalidState

    def __init__(self) -> None:
        self._nursery: trio.Nursery | None = None

    def run(self, main: Body) -> Any:
        async def root() -> Any:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                return await main()

        try:
            return trio.run(root, clock=trio.testing.MockClock(autojump_threshold=0))
        finally:
            self._nursery = None

    def now(self) -> float:
        return trio.current_time()

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    def event(self) -> Any:
        return trio.Event()

    def future(self) -> Any:
        return _TrioFuture()

    async def await_future(self, future: Any) -> Any:
        return await future.wait()

    def spawn(self, body: Body) -> Any:
        if self._nursery is None:
            raise RuntimeError("spawn() outside TrioRuntime.run()")
        task = _TrioTask()
        self._nursery.start_soon(task.run, body)
        return task

    def cancel(self, task: Any) -> None:
        task.scope.cancel()

    def done(self, task: Any) -> bool:
        return bool(task.outcome.done())

    async def join(self, task: Any) -> Any:
        return await task.outcome.wait()
