"""Future and Task: a result that arrives later, and the coroutine driver that is one.

A ``Future`` is the meeting point of a coroutine and the loop. It is awaitable
by *yielding itself*: ``await fut`` runs ``fut.__await__()``, which yields
``fut`` up through every ``await`` in the chain (PEP 492: "Any ``yield from``
chain of calls ends with a ``yield``. This is a fundamental mechanism of how
*Futures* are implemented.") until it reaches the ``Task`` driving the chain,
which hands it to the loop. When the Future is resolved, its done callbacks
resume that Task, and ``__await__`` returns the result.

A ``Task`` is a Future whose result is the return value of a coroutine. It
drives the coroutine with ``send(None)`` and ``throw(exc)``, one step per
wake-up, exactly as the article's loop drives its generators with ``send``.

The two know nothing of selectors or timers: the loop reaches them only
through ``Scheduler``, a three-method protocol, so this module reads on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from typing import Any, Generic, Protocol, TypeVar, cast

T = TypeVar("T")


class CancelledError(BaseException):
    """Thrown into a cancelled task at its await point.

    A ``BaseException`` (as asyncio's has been since 3.8), so that a generic
    ``except Exception`` in user code does not swallow a cancellation.
    """


class InvalidStateError(Exception):
    """The Future is not in a state that allows the operation (PEP 3156)."""


class Scheduler(Protocol):
    """The loop, as seen by futures and tasks."""

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on a later turn of the loop, after those scheduled before it."""
        ...

    def park(
        self, task: Task[Any], request: object, wake: Callable[[], None]
    ) -> Callable[[], None]:
        """Arrange for ``wake()`` when ``request`` (what the task yielded) is satisfied.

        Returns the function that undoes the arrangement (used by cancel).
        """
        ...

    def adopt(self, task: Task[Any]) -> None:
        """Keep ``task`` alive until it is done, and cancel it if the loop ends first."""
        ...


_local = threading.local()


def get_running_loop() -> Scheduler:
    """The loop of this thread's ``run()``; futures schedule their callbacks on it."""
    loop: Scheduler | None = getattr(_local, "loop", None)
    if loop is None:
        raise RuntimeError("no running loop: enter one with impl.loop.run(main)")
    return loop


def _set_running_loop(loop: Scheduler | None) -> None:
    _local.loop = loop


class Future(Generic[T]):
    """A value (or an exception) that will be set exactly once.

    >>> f: Future[int] = Future()
    >>> f.set_result(42)
    >>> f.set_result(43)
    Traceback (most recent call last):
    ...
    impl.loop.futures.InvalidStateError: <Future finished result=42> is already done
    >>> f.result()
    42
    """

    def __init__(self) -> None:
        # Two flags rather than a state name: pending is "not done", and
        # cancelled is a way of being done.
        self._done = False
        self._cancelled = False
        self._result: T | None = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future[T]], object]] = []

    def __repr__(self) -> str:
        name = type(self).__name__
        if not self._done:
            return f"<{name} pending>"
        if self._cancelled:
            return f"<{name} cancelled>"
        if self._exception is not None:
            return f"<{name} finished exception={self._exception!r}>"
        return f"<{name} finished result={self._result!r}>"

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return self._cancelled

    def result(self) -> T:
        """The result; raises the exception if one was set, CancelledError if cancelled."""
        if self._cancelled:
            raise CancelledError()
        if not self._done:
            raise InvalidStateError(f"{self!r} has no result yet")
        if self._exception is not None:
            raise self._exception
        return cast(T, self._result)

    def exception(self) -> BaseException | None:
        if self._cancelled:
            raise CancelledError()
        if not self._done:
            raise InvalidStateError(f"{self!r} has no exception yet")
        return self._exception

    def set_result(self, value: T) -> None:
        self._finish(value, None)

    def set_exception(self, exception: BaseException) -> None:
        if isinstance(exception, StopIteration):
            # Raised out of __await__, it would end the awaiting generator
            # instead of propagating: refuse it, as asyncio does.
            raise TypeError("StopIteration cannot be the exception of a Future")
        self._finish(None, exception)

    def cancel(self) -> bool:
        """Cancel if pending; returns whether it did (PEP 3156: done Futures say False)."""
        if self.done():
            return False
        self._finish(None, None, cancelled=True)
        return True

    def add_done_callback(self, callback: Callable[[Future[T]], object]) -> None:
        """Call ``callback(self)`` once the Future is done: always later, never right now."""
        if self.done():
            get_running_loop().call_soon(partial(callback, self))
        else:
            self._callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[Future[T]], object]) -> int:
        """Forget every registration of ``callback``; returns how many there were."""
        kept = [registered for registered in self._callbacks if registered != callback]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def _finish(
        self, value: T | None, exception: BaseException | None, *, cancelled: bool = False
    ) -> None:
        if self.done():
            raise InvalidStateError(f"{self!r} is already done")
        self._done, self._cancelled = True, cancelled
        self._result, self._exception = value, exception
        callbacks, self._callbacks = self._callbacks, []
        if callbacks:
            # PEP 3156: callbacks are scheduled, never called from inside
            # set_result, so the resolver never runs foreign code mid-step.
            loop = get_running_loop()
            for callback in callbacks:
                loop.call_soon(partial(callback, self))

    def __await__(self) -> Generator[Any, None, T]:
        if not self.done():
            yield self  # "here I am, wake me when I am done" -- the Task takes it to the loop
        return self.result()  # a done Future never suspends

    __iter__ = __await__  # so that generator-based coroutines can ``yield from`` it


class Task(Future[T]):
    """A coroutine driven to completion by the running loop; its result is the Future's.

    Creating a Task schedules its first step; it never runs the coroutine
    synchronously, so ``Task(coro)`` returns before any of ``coro`` has run.
    """

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        super().__init__()
        self._coro = coro
        self._loop = get_running_loop()
        self._unpark: Callable[[], None] | None = None  # set while parked
        self._must_cancel = False
        self._loop.adopt(self)
        self._loop.call_soon(self._step)

    def __repr__(self) -> str:
        name = getattr(self._coro, "__qualname__", "?")
        return f"{super().__repr__()[:-1]} coro={name}>"

    def cancel(self) -> bool:
        """Request cancellation: CancelledError is thrown in at the await point.

        If the task is parked, it is unparked at once (the thing it waited for
        is left alone: other tasks may be waiting for it too) and resumed with
        the exception. If it is running or already scheduled to run, the
        exception is delivered at its next await. Returns False if done.
        """
        if self.done():
            return False
        if self._unpark is not None:
            self._unpark_now()
            self._loop.call_soon(partial(self._step, CancelledError()))
        else:
            self._must_cancel = True
        return True

    def _unpark_now(self) -> None:
        """Undo the parking; only for a parked task."""
        unpark, self._unpark = self._unpark, None
        assert unpark is not None, f"{self!r} is not parked"
        unpark()

    def _wake(self) -> None:
        """Resume the parked task, unless cancel() unparked it after this wake-up was queued.

        Such a stale wake-up always runs before the task can park again: the
        step that delivers the CancelledError is queued behind it (FIFO), and
        every other way of waking a task is undone by ``unpark``. So "not
        parked" is all it takes to recognise one.
        """
        if self._unpark is None:
            return
        self._unpark = None
        self._step()

    def _step(self, exception: BaseException | None = None) -> None:
        if self.done():
            return
        if self._must_cancel and exception is None:
            # Only the first step can find a cancellation pending (later ones
            # are delivered when the task parks), so the coroutine has not
            # started: the CancelledError ends it, and the flag is never read again.
            exception = CancelledError()
        try:
            # send/throw: the two ways to resume a generator (PEP 342), the whole of "driving"
            if exception is None:  # noqa: SIM108 -- two resumptions, two lines
                request = self._coro.send(None)
            else:
                request = self._coro.throw(exception)
        except StopIteration as stop:
            self._finish(stop.value, None)
        except CancelledError:
            self._finish(None, None, cancelled=True)
        except Exception as error:
            self._finish(None, error)
        except BaseException as error:  # KeyboardInterrupt, SystemExit: record, then let go
            self._finish(None, error)
            raise
        else:
            self._park(request)

    def _park(self, request: object) -> None:
        if self._must_cancel:
            self._must_cancel = False
            self._loop.call_soon(partial(self._step, CancelledError()))
            return
        try:
            self._unpark = self._loop.park(self, request, self._wake)
        except Exception as refusal:  # the loop cannot wait for that: say so in the coroutine
            self._loop.call_soon(partial(self._step, refusal))
