"""Random programs of tasks run on our loop, on trio and on asyncio: the traces must agree.

The IR, and why its orders are well defined, is in ``spec.loop.programs``.
Here: the Hypothesis strategy, the differential properties, a few programs
written out by hand, and the two places where trio and asyncio *do not*
specify what we do (equal deadlines), shown on the runtimes themselves.
"""

from __future__ import annotations

import asyncio

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from spec.loop import programs as p
from spec.loop import virtual_asyncio
from spec.loop.runtimes import AsyncioRuntime, SubjectRuntime, TrioRuntime
from spec.loop.subject import reference

OURS = reference()


def ops(tasks: int, me: int, events: int, futures: int) -> st.SearchStrategy[p.Op]:
    choices: list[st.SearchStrategy[p.Op]] = [st.just(p.Tick())]
    if events:
        event = st.integers(0, events - 1)
        # Twice: an Event only matters when some task waits and another sets it.
        choices += [st.builds(p.SetEvent, event), st.builds(p.WaitEvent, event)] * 2
    if futures:
        future = st.integers(0, futures - 1)
        choices += [
            st.builds(p.AwaitFuture, future),
            st.builds(p.Resolve, future, st.integers(0, 9)),
            st.builds(p.Fail, future),
            st.builds(p.CancelFuture, future),
        ]
    others = [task for task in range(tasks) if task != me]
    if others:
        other = st.sampled_from(others)
        choices += [st.builds(p.JoinTask, other), st.builds(p.CancelTask, other)]
    choices.append(st.just(p.Raise()))
    return st.one_of(choices)


@st.composite
def programs(draw: st.DrawFn, max_tasks: int = 4, max_steps: int = 5) -> p.Program:
    tasks = draw(st.integers(1, max_tasks))
    events = draw(st.integers(0, 2))
    futures = draw(st.integers(0, 2))
    budget = p.MAX_STEPS
    bodies = []
    for me in range(tasks):
        room = min(max_steps, budget - (tasks - me - 1))
        step = st.builds(p.Step, st.integers(0, 3), ops(tasks, me, events, futures))
        steps = draw(st.lists(step, min_size=1, max_size=room))
        budget -= len(steps)
        bodies.append(tuple(steps))
    return p.Program(tuple(bodies), events, futures)


@given(programs())
def test_every_generated_program_is_well_formed(program):
    assert program.problems() == []


@given(programs())
def test_our_loop_orders_every_event_as_trio_does_up_to_ties_within_an_instant(program):
    p.check_matches_trio(OURS, program)


@given(programs())
def test_our_loop_orders_every_event_exactly_as_asyncio_does(program):
    p.check_matches_asyncio(OURS, program)


SHARED_FUTURE = p.Program(
    tasks=(
        (p.Step(0, p.AwaitFuture(0)), p.Step(0, p.Tick())),
        (p.Step(1, p.AwaitFuture(0)),),
        (p.Step(2, p.CancelTask(0)), p.Step(1, p.Resolve(0, 7))),
    ),
    events=0,
    futures=1,
)


def test_cancelling_one_waiter_of_a_future_leaves_it_to_the_other_on_all_three_loops():
    expected = [
        (2.0625, "t2", "cancel t0"),
        (2.0625, "t0", "cancelled"),
        (3.09375, "t2", "resolved f0=7"),
        (3.09375, "t2", "return"),
        (3.09375, "t1", "f0 -> value 7"),
        (3.09375, "t1", "return"),
    ]
    for runtime in (SubjectRuntime(OURS), AsyncioRuntime(), TrioRuntime()):
        trace = p.interpret(runtime, SHARED_FUTURE)
        assert p.canonical([r for r in trace if r[1] != "main"]) == p.canonical(expected)


def test_a_cancelled_joiner_does_not_cancel_the_task_it_joins():
    program = p.Program(
        tasks=(
            (p.Step(3, p.Tick()),),
            (p.Step(0, p.JoinTask(0)),),
            (p.Step(1, p.CancelTask(1)),),
        ),
        events=0,
        futures=0,
    )
    trace = p.interpret(SubjectRuntime(OURS), program)
    assert (3.5, "t0", "tick") in trace
    assert ("t1", "cancelled") in [(who, what) for _, who, what in trace]
    p.check_matches_trio(OURS, program)
    p.check_matches_asyncio(OURS, program)


def test_a_program_that_deadlocks_is_reaped_at_the_horizon_on_every_loop():
    program = p.Program(
        tasks=((p.Step(0, p.JoinTask(1)),), (p.Step(0, p.JoinTask(0)),)),
        events=0,
        futures=0,
    )
    trace = p.interpret(SubjectRuntime(OURS), program)
    assert trace[0] == (program.horizon(), "main", "reap")
    assert sorted(what for _, who, what in trace if who != "main") == ["cancelled", "cancelled"]
    p.check_matches_trio(OURS, program)
    p.check_matches_asyncio(OURS, program)


def test_ill_formed_programs_are_refused_before_they_run():
    self_join = p.Program(tasks=((p.Step(0, p.JoinTask(0)),),), events=0, futures=0)
    assert self_join.problems() == ["t0: cannot target task 0"]
    with pytest.raises(ValueError, match="cannot target task 0"):
        p.interpret(SubjectRuntime(OURS), self_join)


def _trio_wake_order(sleepers: int) -> list[int]:
    woken: list[int] = []

    async def sleeper(index: int) -> None:
        await trio.sleep(1)
        woken.append(index)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for index in range(sleepers):
                nursery.start_soon(sleeper, index)
                await trio.testing.wait_all_tasks_blocked()  # start them one by one, in order

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return woken


def test_trio_does_not_wake_equal_deadline_sleepers_in_fifo_order():
    # Each run is FIFO with probability at most 1/720 (six sleepers, batch
    # shuffled or reversed, ties broken by id()); five runs all FIFO would be
    # a one-in-10**14 accident.
    orders = [_trio_wake_order(6) for _ in range(5)]
    assert any(order != sorted(order) for order in orders), orders


def test_asyncio_does_not_wake_equal_deadline_sleepers_in_fifo_order():
    async def main() -> list[int]:
        woken: list[int] = []

        async def sleeper(index: int) -> None:
            await asyncio.sleep(1)
            woken.append(index)

        await asyncio.gather(*(sleeper(index) for index in range(12)))
        return woken

    woken = virtual_asyncio.run(main())
    assert sorted(woken) == list(range(12))
    assert woken != list(range(12))  # heapq compares deadlines only: ties come out shuffled


def _trio_event_wake_order(waiters: int) -> list[int]:
    woken: list[int] = []

    async def waiter(event: trio.Event, index: int) -> None:
        await event.wait()
        woken.append(index)

    async def main() -> None:
        event = trio.Event()
        async with trio.open_nursery() as nursery:
            for index in range(waiters):
                nursery.start_soon(waiter, event, index)
                await trio.testing.wait_all_tasks_blocked()
            event.set()

    trio.run(main)
    return woken


def test_trio_wakes_the_waiters_of_one_event_in_no_fixed_order():
    # The waiters become runnable in one batch, and trio randomizes batches.
    orders = [_trio_event_wake_order(6) for _ in range(5)]
    assert any(order != sorted(order) for order in orders), orders


def test_trio_checkpoints_in_wait_on_a_set_event_where_ours_returns_without_suspending():
    async def main() -> str:
        event = trio.Event()
        event.set()
        with trio.CancelScope() as scope:
            scope.cancel()
            await event.wait()
            return "returned"
        return "cancelled inside wait()"

    assert trio.run(main) == "cancelled inside wait()"
