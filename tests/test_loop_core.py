"""The loop's own promises beyond the primitives': one entry point, a dispatch table, no hangs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import os
import selectors
import socket
import time

import pytest

import impl.loop as loop
from impl.loop.core import Loop, trap


def run_virtual(main):
    return loop.run(main, clock=loop.VirtualClock())


def test_run_returns_what_main_returns():
    async def main():
        return "result"

    assert run_virtual(main()) == "result"


def test_run_raises_what_main_raises():
    async def main():
        await loop.sleep(1)
        raise LookupError("from main")

    with pytest.raises(LookupError, match="from main"):
        run_virtual(main())


def test_a_loop_with_nothing_left_to_wait_for_raises_deadlock_instead_of_hanging():
    async def main():
        await loop.Future()

    with pytest.raises(loop.Deadlock):
        run_virtual(main())


def test_run_cannot_be_entered_from_inside_a_running_loop():
    async def inner():
        return 1

    async def main():
        coro = inner()
        with pytest.raises(RuntimeError, match="cannot be called while a loop is running"):
            loop.run(coro)

    run_virtual(main())


def test_yielding_something_the_loop_cannot_wait_for_raises_type_error_in_the_coroutine():
    async def main():
        with pytest.raises(TypeError, match="may only await"):
            await trap("not a request")
        return "recovered"

    assert run_virtual(main()) == "recovered"


def test_a_task_awaiting_itself_gets_a_runtime_error_instead_of_waiting_forever():
    async def main():
        async def narcissist():
            await me

        me = loop.Task(narcissist())
        with pytest.raises(RuntimeError, match="awaits itself"):
            await me

    run_virtual(main())


def test_the_loop_is_handed_the_very_future_at_the_bottom_of_an_await_chain(monkeypatch):
    handed = []
    park = Loop.park

    def spy(self, task, request, wake):
        handed.append(request)
        return park(self, task, request, wake)

    monkeypatch.setattr(Loop, "park", spy)
    leaf = None

    async def bottom():
        return await leaf

    async def middle():
        return await bottom() + 1

    async def main():
        nonlocal leaf
        leaf = loop.Future()
        child = loop.Task(middle())
        await loop.sleep(1)
        leaf.set_result(41)
        return await child

    assert run_virtual(main()) == 42
    assert any(request is leaf for request in handed)
    assert not any(inspect.iscoroutine(request) for request in handed)


def test_a_bare_yield_lets_every_other_ready_task_run_once_like_the_articles_loop():
    order = []

    async def worker(name):
        for step in range(3):
            order.append(f"{name}{step}")
            await loop.yield_now()

    async def main():
        tasks = [loop.Task(worker(name)) for name in "ab"]
        for task in tasks:
            await task

    run_virtual(main())
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_tasks_left_running_when_main_returns_are_cancelled_and_their_finally_blocks_run():
    unwound = []

    async def background():
        try:
            await loop.sleep(3600)
        finally:
            await loop.sleep(1)  # cleanup may await
            unwound.append(loop.now())

    async def main():
        loop.Task(background())
        await loop.sleep(1)
        return "main done"

    assert run_virtual(main()) == "main done"
    assert unwound == [2.0]


def test_a_task_cancelled_before_its_first_step_never_runs():
    ran = []

    async def never():
        ran.append(True)

    async def main():
        task = loop.Task(never())
        task.cancel()
        with pytest.raises(loop.CancelledError):
            await task

    run_virtual(main())
    assert ran == []


def test_a_task_cancelling_itself_gets_cancelled_error_at_its_next_await():
    async def main():
        async def suicidal():
            me.cancel()
            marks.append("still running after cancel()")
            await loop.sleep(1)
            marks.append("slept")

        marks = []
        me = loop.Task(suicidal())
        with pytest.raises(loop.CancelledError):
            await me
        return marks

    assert run_virtual(main()) == ["still running after cancel()"]


def test_a_cancelled_sleep_leaves_no_timer_behind_to_wake_the_task_later():
    wakes = []

    async def main():
        async def stubborn():
            try:
                await loop.sleep(5)
            except loop.CancelledError:
                await loop.sleep(10)
            wakes.append(loop.now())

        task = loop.Task(stubborn())
        await loop.sleep(1)
        task.cancel()
        await task

    run_virtual(main())
    assert wakes == [11.0]


def test_the_virtual_clock_does_not_jump_while_a_task_is_runnable():
    async def main():
        await loop.sleep(0)
        before = loop.now()
        await loop.yield_now()
        return before, loop.now()

    assert run_virtual(main()) == (0.0, 0.0)


def test_the_real_clock_really_sleeps():
    async def main():
        start = time.monotonic()
        await loop.sleep(0.02)
        return time.monotonic() - start

    assert 0.02 <= loop.run(main()) < 5


def test_keyboard_interrupt_in_a_task_propagates_out_of_run():
    async def main():
        await loop.sleep(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_virtual(main())


def test_two_tasks_cannot_wait_to_read_the_same_socket_at_once():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        async def main():
            first = loop.Task(loop.recv(a, 10))
            await loop.yield_now()
            with pytest.raises(RuntimeError, match="already waiting"):
                await loop.recv(a, 10)
            b.sendall(b"x")
            return await first

        assert run_virtual(main()) == b"x"


def test_accept_recv_and_sendall_work_on_real_loopback_sockets():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]

        async def main():
            client = socket.socket()
            with client:
                client.setblocking(False)
                client.connect_ex(("127.0.0.1", port))
                conn, _ = await loop.accept(listener)
                with conn:
                    await loop.wait_writable(client)
                    await loop.sendall(client, b"ping" * 1000)
                    client.shutdown(socket.SHUT_WR)
                    received = bytearray()
                    for _ in range(10_000):
                        chunk = await loop.recv(conn, 1000)
                        if not chunk:
                            break
                        received += chunk
                    return bytes(received)

        assert loop.run(main()) == b"ping" * 1000


def test_the_selector_forgets_a_socket_one_turn_after_its_last_waiter_is_woken():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        registered = []

        async def main():
            selector = loop.core.get_running_loop()._selector
            b.sendall(b"x")
            data = await loop.recv(a, 1)
            registered.append(selector.get_map().get(a.fileno()) is not None)
            await loop.yield_now()
            registered.append(selector.get_map().get(a.fileno()) is not None)
            return data

        assert run_virtual(main()) == b"x"
        # Kept while the woken task might wait again, gone once a turn passed without it.
        assert registered == [True, False]


def test_a_socket_waiting_again_keeps_its_registration():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        calls = []

        async def main():
            selector = loop.core.get_running_loop()._selector
            for name in ("register", "modify", "unregister"):
                method = getattr(selector, name)

                def counted(*args, _method=method, _name=name):
                    calls.append(_name)
                    return _method(*args)

                setattr(selector, name, counted)
            received = bytearray()
            for _ in range(100):
                b.sendall(b"x")
                received += await loop.recv(a, 1)
            return bytes(received)

        assert run_virtual(main()) == b"x" * 100
        # One registration for a hundred reads, dropped at the end (shutdown closes the selector).
        assert calls == ["register"]


def test_a_descriptor_number_reused_by_a_new_socket_in_the_same_turn_is_watched_afresh():
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with b, c, d:
        a.setblocking(False)
        number = a.fileno()

        async def read_from_the_reused_number():
            b.sendall(b"x")
            first = await loop.recv(a, 1)
            # Still in the turn that woke us: a's registration is kept, but closing
            # a takes it out of epoll, and the number goes to a new socket at once.
            a.close()
            os.dup2(c.fileno(), number)
            reused = socket.socket(fileno=number)
            with reused:
                reused.setblocking(False)
                d.sendall(b"y")
                return first + await loop.recv(reused, 1)

        async def main():
            reader = loop.Task(read_from_the_reused_number())

            async def watchdog():
                await loop.sleep(5)
                reader.cancel()  # the reused socket was never watched

            dog = loop.Task(watchdog())
            try:
                return await reader
            finally:
                dog.cancel()

        assert loop.run(main()) == b"xy"


def test_the_timer_heap_drops_cancelled_timers_before_reporting_the_next_deadline():
    heap = loop.TimerHeap()
    early = heap.push(1.0, lambda: None)
    heap.push(2.0, lambda: None)
    early.cancel()
    assert heap.next_deadline() == 2.0
    assert len(heap) == 1
    assert heap.pop_due(1.5) == []


@pytest.mark.parametrize(
    "module",
    [
        "impl.loop.clock",
        "impl.loop.timers",
        "impl.loop.futures",
        "impl.loop.core",
        "impl.loop.sync",
    ],
)
def test_the_examples_in_the_implementation_docstrings_hold(module):
    # impl/ is outside pytest's testpaths, so its doctests are run from here.
    failures, tried = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert tried > 0
    assert failures == 0


def test_a_task_that_cancels_itself_then_returns_without_awaiting_keeps_its_result():
    # Cancellation is delivered at an await; with none left, the result stands
    # (as in trio). asyncio marks such a task cancelled anyway.
    async def main():
        async def resigned():
            me.cancel()
            return "returned"

        me = loop.Task(resigned())
        return await me, me.cancelled()

    assert run_virtual(main()) == ("returned", False)


def test_an_exception_raised_by_a_done_callback_propagates_out_of_run():
    # asyncio logs such an exception and carries on; we do not drop errors.
    async def main():
        future = loop.Future()
        future.add_done_callback(lambda _: 1 / 0)
        future.set_result(None)
        await loop.sleep(1)

    with pytest.raises(ZeroDivisionError):
        run_virtual(main())


def test_a_wait_to_read_is_not_woken_by_the_socket_becoming_writable():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        async def main():
            reader = loop.Task(loop.wait_readable(a))
            writer = loop.Task(loop.wait_writable(a))  # writable at once
            await writer
            await loop.sleep(1)
            woken_early = reader.done()
            b.sendall(b"x")
            await reader
            return woken_early

        assert run_virtual(main()) is False


def test_cancelling_the_only_wait_on_a_socket_takes_it_out_of_the_selector_a_turn_later():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        async def main():
            selector = loop.core.get_running_loop()._selector
            waiter = loop.Task(loop.recv(a, 1))
            await loop.yield_now()
            watched = selector.get_map().get(a.fileno()) is not None
            waiter.cancel()
            await loop.yield_now()
            await loop.yield_now()
            return watched, selector.get_map().get(a.fileno()) is not None

        assert run_virtual(main()) == (True, False)


class RecordingSelector(selectors.DefaultSelector):
    """A real selector that remembers the timeout of each select()."""

    def __init__(self):
        super().__init__()
        self.timeouts = []

    def select(self, timeout=None):
        self.timeouts.append(timeout)
        return super().select(0)


def test_the_monotonic_clock_waits_until_the_deadline_and_only_polls_past_it():
    clock = loop.MonotonicClock()
    with RecordingSelector() as selector:
        clock.wait(selector, clock.now() + 3600)
        clock.wait(selector, clock.now() - 5)
        clock.wait(selector, None)
    soon, past, forever = selector.timeouts
    assert 3599 < soon <= 3600
    assert past == 0.0
    assert forever is None


def test_a_future_and_a_task_say_in_their_repr_how_they_stand():
    async def main():
        async def child():
            await loop.sleep(1)
            return 7

        future, failed, cancelled = loop.Future(), loop.Future(), loop.Future()
        task = loop.Task(child())
        before = [repr(future), repr(task)]
        future.set_result(1)
        failed.set_exception(KeyError("k"))
        cancelled.cancel()
        await task
        return [*before, repr(future), repr(failed), repr(cancelled), repr(task)]

    assert run_virtual(main()) == [
        "<Future pending>",
        "<Task pending coro=test_a_future_and_a_task_say_in_their_repr_how_they_stand"
        ".<locals>.main.<locals>.child>",
        "<Future finished result=1>",
        "<Future finished exception=KeyError('k')>",
        "<Future cancelled>",
        "<Task finished result=7 coro=test_a_future_and_a_task_say_in_their_repr_how_they_stand"
        ".<locals>.main.<locals>.child>",
    ]
