"""A small event loop on ``selectors``: the article's loop, grown up.

The article ended with a loop that called ``select`` on sockets and resumed
the generator registered for each ready one. This is that loop after adding
what asyncio adds: a ready queue, timers, futures and cancellation.

Design principles
-----------------
1. One way in. ``run(main)`` creates the loop, runs ``main`` as a Task until it
   is done, cancels whatever is left, closes the selector and returns main's
   result. There is no ``get_event_loop()`` and no loop to forget to close.
2. Tasks talk to the loop only by yielding. What a task may yield is a short
   list, and ``Loop._dispatch`` maps each kind to the code that parks the task
   on it: a ``Future`` (wake when done), a ``SleepUntil`` (wake at a deadline),
   a ``WaitIO`` (wake when a socket is ready), or ``None`` (a bare ``yield``,
   as in the article: wake on the next turn). Anything else is thrown back
   into the coroutine as a TypeError.
3. Callbacks are strictly serialized and FIFO (PEP 3156: "It guarantees that
   callbacks are called in the order in which they were scheduled"). A
   callback scheduled during a turn runs on the next turn, so one turn is finite.
4. Time belongs to a clock object, and so does idling: ``MonotonicClock``
   blocks in ``select``, ``VirtualClock`` jumps to the next deadline. The loop
   is the same in production and in tests.
5. Timers fire in deadline order and ties fire in the order they were set (a
   sequence number in the heap key). PEP 3156 leaves ties undefined; we don't.
6. Cancellation is delivered at the await point: the task is unparked from
   whatever it waited for, which is left alone, and CancelledError is thrown
   in there.
7. A loop that cannot make progress says so. With nothing ready, no timer and
   no socket to watch while ``main`` is not done, ``run`` raises ``Deadlock``
   rather than sleeping forever.
8. Every socket read goes through the loop at least once (see sockets.py), so
   a peer that always has data cannot starve the others.
9. The selector learns about changes lazily. A socket's registration outlives
   the wake-up that consumed it until the start of the next turn, because the
   woken task nearly always waits for the same thing again (an echo loop reads,
   writes, reads): keeping the registration saves two ``epoll_ctl`` calls per
   read. Before each ``select`` the loop trims every registration touched in
   the last turn down to what its waiters still want. A socket closed in
   between has left epoll by itself; its file descriptor may even belong to a
   new socket by then, so each registration remembers the socket it was made
   for and starts afresh when another one shows up with the same number.
"""

from __future__ import annotations

import selectors
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from typing import Any, NamedTuple, TypeVar

from impl.loop.clock import Clock, MonotonicClock
from impl.loop.futures import Future, Task, _set_running_loop, get_running_loop
from impl.loop.timers import TimerHeap, TimerQueue

T = TypeVar("T")


class Deadlock(RuntimeError):
    """No task can ever run again: nothing is ready, no timer is set, no socket is watched."""


class SleepUntil(NamedTuple):
    """Yielded to be resumed once the loop's clock reaches ``deadline``."""

    deadline: float


class WaitIO(NamedTuple):
    """Yielded to be resumed once ``fd`` is ready for ``events`` (EVENT_READ or EVENT_WRITE).

    ``owner`` is the object the descriptor belongs to (the socket). The loop
    compares owners by identity to tell a reused descriptor number from the
    same socket waiting again (principle 9); ``None`` means "unknown", and
    such a registration is never kept past its wake-up.
    """

    fd: int
    events: int
    owner: object = None


@types.coroutine
def trap(request: object) -> Generator[object, None, None]:
    """Yield ``request`` to the loop: the one place where a coroutine chain really suspends."""
    yield request


async def sleep(seconds: float) -> None:
    """Suspend the calling task for ``seconds`` of loop time."""
    await sleep_until(now() + seconds)


async def sleep_until(deadline: float) -> None:
    """Suspend the calling task until the loop's clock reads ``deadline``."""
    await trap(SleepUntil(deadline))


async def yield_now() -> None:
    """Let every other runnable task run once: the article's bare ``yield``."""
    await trap(None)


def now() -> float:
    """The running loop's time (virtual under a VirtualClock)."""
    loop = get_running_loop()
    if not isinstance(loop, Loop):
        raise RuntimeError("the running loop is not an impl.loop Loop")
    return loop.time()


Park = Callable[[Task[Any], Any, Callable[[], None]], Callable[[], None]]


def _nothing_to_undo() -> None:
    pass


class Loop:
    """The scheduler. Use ``run()``; the methods here are what futures and tasks call."""

    def __init__(self, clock: Clock, timers: TimerQueue) -> None:
        self._clock = clock
        self._timers = timers
        self._ready: deque[Callable[[], object]] = deque()
        self._selector = selectors.DefaultSelector()
        self._io_waiters: dict[tuple[int, int], Callable[[], None]] = {}
        #: What the selector watches, fd -> (events, owner): kept here because asking
        #: the selector (``get_map().get(fd)``) costs more than the rest of ``_watch``.
        self._watched: dict[int, tuple[int, object]] = {}
        #: Descriptors whose registration may exceed their waiters (principle 9).
        self._to_trim: set[int] = set()
        self._tasks: set[Task[Any]] = set()
        self._dispatch: dict[type, Park] = {
            Future: self._park_on_future,
            SleepUntil: self._park_on_timer,
            WaitIO: self._park_on_io,
            type(None): self._park_for_one_turn,
        }

    # -- what futures and tasks call (the Scheduler protocol) -----------------

    def time(self) -> float:
        return self._clock.now()

    def call_soon(self, callback: Callable[[], object]) -> None:
        self._ready.append(callback)

    def adopt(self, task: Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def park(
        self, task: Task[Any], request: object, wake: Callable[[], None]
    ) -> Callable[[], None]:
        for kind in type(request).__mro__:
            handler = self._dispatch.get(kind)
            if handler is not None:
                return handler(task, request, wake)
        raise TypeError(
            f"{task!r} yielded {request!r}; a task may only await Futures, "
            "sleeps and socket waits of impl.loop"
        )

    # -- the dispatch table's entries -----------------------------------------

    def _park_on_future(
        self, task: Task[Any], future: Future[Any], wake: Callable[[], None]
    ) -> Callable[[], None]:
        if future is task:
            raise RuntimeError(f"{task!r} awaits itself and would wait forever")

        def on_done(_: Future[Any]) -> None:
            wake()

        def undo() -> None:
            future.remove_done_callback(on_done)

        future.add_done_callback(on_done)
        return undo

    def _park_on_timer(
        self, task: Task[Any], request: SleepUntil, wake: Callable[[], None]
    ) -> Callable[[], None]:
        return self._timers.push(request.deadline, wake).cancel

    def _park_on_io(
        self, task: Task[Any], request: WaitIO, wake: Callable[[], None]
    ) -> Callable[[], None]:
        key = (request.fd, request.events)
        if key in self._io_waiters:
            raise RuntimeError(f"another task is already waiting for {request}")
        self._io_waiters[key] = wake
        self._watch(request.fd, request.owner)
        return partial(self._unwatch, key)

    def _park_for_one_turn(
        self, task: Task[Any], request: None, wake: Callable[[], None]
    ) -> Callable[[], None]:
        self.call_soon(wake)
        return _nothing_to_undo

    # -- the selector ---------------------------------------------------------

    def _wanted(self, fd: int) -> int:
        events = 0
        if (fd, selectors.EVENT_READ) in self._io_waiters:
            events |= selectors.EVENT_READ
        if (fd, selectors.EVENT_WRITE) in self._io_waiters:
            events |= selectors.EVENT_WRITE
        return events

    def _watch(self, fd: int, owner: object) -> None:
        """Make sure the selector reports what ``fd``'s waiters want; more is allowed."""
        wanted = self._wanted(fd)
        registered, registered_owner = self._watched.get(fd, (0, None))
        if registered and (owner is None or registered_owner is not owner):
            # Either a stranger, or the number now names another socket (the old
            # one was closed, which already took it out of epoll): start afresh.
            self._forget(fd)
            registered = 0
        if not wanted & ~registered:
            return  # nothing wanted that is not registered already
        if registered:
            self._selector.modify(fd, wanted | registered)
        else:
            self._selector.register(fd, wanted)
        self._watched[fd] = (wanted | registered, owner)

    def _forget(self, fd: int) -> None:
        del self._watched[fd]
        # If the socket was closed, epoll has dropped it already; selectors then
        # ignores epoll's ENOENT/EBADF and only forgets its own record.
        self._selector.unregister(fd)

    def _trim(self) -> None:
        """Shrink each registration touched in the last turn to what its waiters want."""
        for fd in self._to_trim:
            # Still watched: nothing forgets a descriptor but this, and _watch
            # registers one afresh whenever it forgets it.
            registered, owner = self._watched[fd]
            wanted = self._wanted(fd)
            if not wanted:
                self._forget(fd)
            elif registered & ~wanted:  # registered for more than is wanted (never less)
                self._selector.modify(fd, wanted)
                self._watched[fd] = (wanted, owner)
        self._to_trim.clear()

    def _unwatch(self, key: tuple[int, int]) -> None:
        self._io_waiters.pop(key, None)
        self._to_trim.add(key[0])

    def _on_ready(self, fd: int, events: int) -> None:
        # A woken task that wants more must wait again; its registration stays
        # until the next turn's trim, by when it has usually asked again.
        for wanted in (selectors.EVENT_READ, selectors.EVENT_WRITE):
            if events & wanted and (fd, wanted) in self._io_waiters:
                self._ready.append(self._io_waiters.pop((fd, wanted)))
        self._to_trim.add(fd)

    # -- the loop itself --------------------------------------------------------

    def _run_once(self) -> None:
        """One turn: poll or wait for I/O, collect due timers, run what was ready."""
        if self._to_trim:
            self._trim()
        deadline = self._timers.next_deadline()
        if self._ready:
            until: float | None = self.time()
        elif deadline is None and not self._io_waiters:
            raise Deadlock("no task can make progress: nothing ready, no timer, no socket")
        else:
            until = deadline
        for key, events in self._clock.wait(self._selector, until):
            self._on_ready(key.fd, events)
        self._ready.extend(self._timers.pop_due(self.time()))
        for _ in range(len(self._ready)):
            self._ready.popleft()()

    def _run_until_done(self, future: Future[Any]) -> None:
        while not future.done():
            self._run_once()

    def _shutdown(self) -> None:
        """Cancel the tasks main left behind and let them unwind (finally blocks may await)."""
        leftovers = [task for task in self._tasks if not task.done()]
        for task in leftovers:
            task.cancel()
        try:
            for task in leftovers:
                self._run_until_done(task)
        except Deadlock:
            pass  # a task that caught the cancellation and waits for nothing: give up on it
        finally:
            for task in leftovers:
                if not task.done():
                    task._coro.close()
            self._selector.close()


def run(
    main: Coroutine[Any, Any, T],
    *,
    clock: Clock | None = None,
    timers: TimerQueue | None = None,
) -> T:
    """Run ``main`` to completion on a new loop and return its result (or raise its exception).

    ``clock`` defaults to real time; pass a ``VirtualClock`` in tests. ``timers``
    exists so that a test can swap in a different timer structure.

    >>> async def main() -> str:
    ...     await sleep(3600)
    ...     return f"an hour later: {now()}"
    >>> from impl.loop.clock import VirtualClock
    >>> run(main(), clock=VirtualClock())
    'an hour later: 3600.0'
    """
    try:
        get_running_loop()
    except RuntimeError:
        pass
    else:
        main.close()
        raise RuntimeError("run() cannot be called while a loop is running in this thread")
    loop = Loop(
        clock if clock is not None else MonotonicClock(),
        timers if timers is not None else TimerHeap(),
    )
    _set_running_loop(loop)
    try:
        task = Task(main)
        try:
            loop._run_until_done(task)
        finally:
            loop._shutdown()
        return task.result()  # raises main's exception, or CancelledError
    finally:
        _set_running_loop(None)
