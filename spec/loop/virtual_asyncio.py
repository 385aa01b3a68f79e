"""asyncio on virtual time, so the same checks and programs can run on it.

asyncio has no mock clock. Its loop, though, asks ``self.time()`` for the
time and blocks only in ``self._selector.select(timeout)``; overriding the
first and wrapping the second is enough. When asyncio would block, the
selector jumps the clock to the earliest scheduled timer instead -- set to
that timer's deadline exactly, read from the loop's heap (``_scheduled``,
private but present in every CPython from 3.4 to 3.13), so that wake-up
times compare with ``==`` against trio's MockClock and our VirtualClock.

>>> import asyncio
>>> async def nap() -> float:
...     await asyncio.sleep(3600.5)
...     return asyncio.get_running_loop().time()
>>> run(nap())
3600.5
"""

from __future__ import annotations

import asyncio
import selectors
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

from spec.loop.subject import LoopUnderTest

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        deadlines = [handle.when() for handle in self._loop._scheduled if not handle.cancelled()]
        if deadlines:
            self._loop.jump_to(min(deadlines))
            return []
        if len(self.get_map()) <= 1:  # only asyncio's own self-pipe: nothing can ever happen
            raise RuntimeError("asyncio deadlock: no timer is scheduled and no socket is watched")
        return super().select(timeout)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A SelectorEventLoop whose clock starts at 0 and jumps from deadline to deadline."""

    _scheduled: list[asyncio.TimerHandle]

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def jump_to(self, deadline: float) -> None:
        self._virtual_now = max(self._virtual_now, deadline)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a fresh VirtualTimeLoop: leftovers are cancelled, the loop closed."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _create_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return asyncio.get_running_loop().create_task(coro)


def _create_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _recv(sock: socket.socket, max_bytes: int) -> bytes:
    return await asyncio.get_running_loop().sock_recv(sock, max_bytes)


async def _sendall(sock: socket.socket, data: bytes) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, data)


async def _accept(listener: socket.socket) -> tuple[socket.socket, Any]:
    return await asyncio.get_running_loop().sock_accept(listener)


def subject() -> LoopUnderTest:
    """asyncio, bundled for the ``spec.loop`` checks."""
    return LoopUnderTest(
        name="asyncio",
        run=run,
        Future=_create_future,
        Task=_create_task,
        Event=asyncio.Event,
        sleep=asyncio.sleep,
        now=_now,
        CancelledError=asyncio.CancelledError,
        InvalidStateError=asyncio.InvalidStateError,
        recv=_recv,
        sendall=_sendall,
        accept=_accept,
    )
