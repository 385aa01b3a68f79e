"""A trio event loop on a background thread, entered with one hop per call.

Hypothesis's stateful testing is synchronous: it calls one rule method after
another on its own thread. The echo fuzzer's clients, the oracle server and the
deadlines all live in trio. Rather than starting ``trio.run`` per operation
(which would also tear down the oracle and the connections every time), one
trio loop runs for the whole campaign on a daemon thread, and the fuzzer makes
a single ``trio.from_thread.run`` hop per test case, which executes the whole
case -- target and oracle side, observations and invariant checks -- before
coming back. Only public trio APIs are used (``hypothesis-trio`` no longer
imports on current Hypothesis).

Long-lived tasks (connection readers, background writers, the oracle server)
are started in ``TrioThread.nursery``, which stays open until ``close()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import trio

T = TypeVar("T")

#: How long to wait for the loop thread to start or to stop.
THREAD_TIMEOUT = 10.0


class TrioThread:
    """Own a trio loop on a thread; ``call(fn, *args)`` runs ``await fn(*args)`` in it."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._crash: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="echofuzz-trio", daemon=True)

    def __enter__(self) -> TrioThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def nursery(self) -> trio.Nursery:
        assert self._nursery is not None, "TrioThread.start() first"
        return self._nursery

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(THREAD_TIMEOUT):
            raise RuntimeError("the trio thread did not start")
        if self._crash is not None:
            raise RuntimeError("the trio thread crashed while starting") from self._crash

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # kept for close(); a daemon thread has nobody else to tell
            self._crash = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def call(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """The one hop: run ``fn(*args)`` on the loop and wait for its outcome."""
        if self._crash is not None:
            raise RuntimeError("the trio thread has crashed") from self._crash
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def close(self) -> None:
        if self._token is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(THREAD_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the trio thread did not stop")
        if self._crash is not None:
            raise RuntimeError("the trio thread crashed") from self._crash
