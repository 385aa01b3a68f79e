"""Claim: a Future resolves once, schedules its callbacks, and once done never suspends an await.

Source, PEP 3156 ("Futures"):

    ``set_result(result)``.  The Future must not be done (nor cancelled)
    already.  This makes the Future done and schedules the callbacks.

    ``InvalidStateError``.  Raised whenever the Future is not in a state
    acceptable to the method being called (e.g. calling ``set_result()``
    on a Future that is already done, or calling ``result()`` on a Future
    that is not yet done).

    ``cancel()``.  If the Future is already done (or cancelled), do
    nothing and return ``False``.

    ``add_done_callback(fn)``. [...] Difference with PEP 3148: The callback
    is never called immediately [...] You can think of this as calling the
    callback through ``call_soon()``.

asyncio adds the inverse, ``remove_done_callback(fn)``: "Remove *fn* from
the callbacks list. Returns the number of callbacks removed, which is
typically 1, unless a callback was added more than once."

And PEP 492 on why a done Future need not suspend: ``await`` "uses the
``yield from`` implementation"; a Future's ``__await__`` yields only while
the result is missing (asyncio: ``if not self.done(): yield self``).

>>> from spec.loop.subject import reference
>>> check_future_resolves_once(reference())
>>> check_awaiting_a_done_future_does_not_suspend(reference())
"""

from __future__ import annotations

from collections.abc import Callable

from spec.loop.subject import LoopUnderTest, require


def _raises(kind: type[BaseException], action: Callable[[], object]) -> bool:
    try:
        action()
    except kind:
        return True
    return False


def check_future_resolves_once(loop: LoopUnderTest) -> None:
    """The first of set_result / set_exception / cancel wins; the others raise or return False."""

    async def scenario() -> None:
        future = loop.Future()
        for method in (future.result, future.exception):
            require(
                _raises(loop.InvalidStateError, method),
                f"{method.__name__}() of a pending Future did not raise InvalidStateError",
            )
        future.set_result("first")
        require(
            _raises(loop.InvalidStateError, lambda: future.set_result("second")),
            "a second set_result() did not raise InvalidStateError",
        )
        require(
            _raises(loop.InvalidStateError, lambda: future.set_exception(ValueError("late"))),
            "set_exception() after set_result() did not raise InvalidStateError",
        )
        require(future.result() == "first", f"the result changed to {future.result()!r}")
        require(future.exception() is None, "exception() of a Future with a result is not None")
        require(future.cancel() is False, "cancel() of a done Future returned True")
        require(not future.cancelled(), "cancel() of a done Future cancelled it")

        failed = loop.Future()
        failed.set_exception(KeyError("k"))
        require(
            _raises(loop.InvalidStateError, lambda: failed.set_result(1)),
            "set_result() after set_exception() did not raise InvalidStateError",
        )
        require(_raises(KeyError, failed.result), "result() did not raise the exception set")
        require(isinstance(failed.exception(), KeyError), "exception() is not the exception set")

        cancelled = loop.Future()
        require(cancelled.cancel() is True, "cancel() of a pending Future returned False")
        require(
            _raises(loop.InvalidStateError, lambda: cancelled.set_result(1)),
            "set_result() after cancel() did not raise InvalidStateError",
        )
        for method in (cancelled.result, cancelled.exception):
            require(
                _raises(loop.CancelledError, method),
                f"{method.__name__}() of a cancelled Future did not raise CancelledError",
            )

    loop.run(scenario())


def check_done_callbacks_are_scheduled_in_order(loop: LoopUnderTest) -> None:
    """Callbacks run after set_result returns, once each, in order, with the Future as argument."""

    async def scenario() -> None:
        future = loop.Future()
        calls: list[tuple[str, object]] = []
        future.add_done_callback(lambda f: calls.append(("first", f)))
        future.add_done_callback(lambda f: calls.append(("second", f)))
        future.set_result(None)
        require(calls == [], f"done callbacks ran inside set_result(): {calls}")
        await loop.sleep(1)
        require(
            calls == [("first", future), ("second", future)],
            f"expected both callbacks once, in registration order, given the Future; got {calls}",
        )
        late: list[object] = []
        future.add_done_callback(late.append)
        require(late == [], "a callback added to a done Future ran immediately")
        await loop.sleep(1)
        require(late == [future], f"a callback added to a done Future ran {len(late)} times")

    loop.run(scenario())


def check_awaiting_a_done_future_does_not_suspend(loop: LoopUnderTest) -> None:
    """``await done_future`` returns (or raises) on the first step: nothing reaches the loop."""

    async def scenario() -> None:
        future = loop.Future()
        future.set_result("ready")
        steps = future.__await__()
        try:
            yielded = next(steps)
        except StopIteration as stop:
            require(stop.value == "ready", f"awaiting a done Future returned {stop.value!r}")
        else:
            raise AssertionError(f"awaiting a done Future suspended: it yielded {yielded!r}")

        failed = loop.Future()
        failed.set_exception(KeyError("k"))
        steps = failed.__await__()
        try:
            yielded = next(steps)
        except KeyError:
            pass
        except StopIteration as stop:
            raise AssertionError(f"awaiting a failed Future returned {stop.value!r}") from None
        else:
            raise AssertionError(f"awaiting a failed Future suspended: it yielded {yielded!r}")

    loop.run(scenario())


def check_remove_done_callback_counts_what_it_removed(loop: LoopUnderTest) -> None:
    """Every registration of the callback goes, and the count says how many there were."""

    async def scenario() -> None:
        future = loop.Future()
        calls: list[str] = []

        class Recorder:
            def __init__(self, name: str) -> None:
                self.name = name

            def record(self, _: object) -> None:
                calls.append(self.name)

        # Bound methods, each ``.record`` a new object: equal, not identical, as asyncio compares.
        twice, kept = Recorder("twice"), Recorder("kept")
        future.add_done_callback(twice.record)
        future.add_done_callback(kept.record)
        future.add_done_callback(twice.record)
        future.add_done_callback(kept.record)
        removed = [
            future.remove_done_callback(twice.record),
            future.remove_done_callback(twice.record),
        ]
        require(removed == [2, 0], f"removing a callback added twice returned {removed}, not 2, 0")
        future.set_result(None)
        await loop.sleep(1)
        require(
            calls == ["kept", "kept"],
            f"after removing one callback, the callbacks run were {calls}",
        )

    loop.run(scenario())
