"""Claim: a Task's outcome, result or exception, reaches whoever awaits it, whenever they do.

Source, PEP 3156 ("Tasks"):

    The task becomes done when its coroutine returns or raises an
    exception; if it returns a result, that becomes the task's result, if
    it raises an exception, that becomes the task's exception.

and ("Coroutines"): "``result = yield from future`` -- suspends the
coroutine until the future is done, then returns the future's result, or
raises an exception, which will be propagated."

So an exception is not lost because nobody was awaiting when it happened,
and it is the same exception object every awaiter sees (asyncio re-raises
the stored one). And "Calling a coroutine does not start its code running":
neither does wrapping it in a Task; the Task's first step is scheduled.

Two more, from asyncio's ``Task`` rather than the PEP. KeyboardInterrupt and
SystemExit are not for the awaiters to handle: they leave the loop at once
(asyncio's ``Task.__step``: ``except (KeyboardInterrupt, SystemExit) as exc:
super().set_exception(exc); raise``), but the task still records the
exception, so that it is done and says why. And "``asyncio.get_running_loop()``
[...] Raise a RuntimeError if there is no running event loop": outside
``run`` there is no loop to ask for the time.

>>> from spec.loop.subject import reference
>>> check_a_task_exception_reaches_every_awaiter(reference())
"""

from __future__ import annotations

from spec.loop.subject import FutureLike, LoopUnderTest, require


class Boom(Exception):
    """The exception the checks' failing tasks raise."""


def check_a_task_exception_reaches_every_awaiter(loop: LoopUnderTest) -> None:
    """An awaiter waiting before the failure and one arriving after both get the same exception."""

    async def scenario() -> None:
        async def failing() -> None:
            await loop.sleep(1)
            raise Boom("from the task")

        task = loop.Task(failing())
        caught: list[tuple[str, BaseException | None]] = []

        async def awaiter(name: str) -> None:
            try:
                await task
            except Boom as error:
                caught.append((name, error))
            else:
                caught.append((name, None))

        early = loop.Task(awaiter("early"))
        await loop.sleep(2)
        await awaiter("late")
        await early
        require(
            [name for name, _ in caught] == ["early", "late"],
            f"expected the early and the late awaiter to catch Boom; got {caught}",
        )
        errors = [error for _, error in caught]
        require(
            all(isinstance(error, Boom) for error in errors),
            f"an awaiter of a failed task got {errors} instead of its Boom",
        )
        require(errors[0] is errors[1], "the awaiters got different exception objects")
        require(task.exception() is errors[0], "task.exception() is not the exception raised")
        require(not task.cancelled(), "a failed task reports itself cancelled")

    loop.run(scenario())


def check_a_task_result_reaches_every_awaiter(loop: LoopUnderTest) -> None:
    """The coroutine's return value is the Task's result, for every awaiter."""

    async def scenario() -> None:
        async def answer() -> int:
            await loop.sleep(1)
            return 42

        task = loop.Task(answer())
        got = [await task, await task, task.result()]
        require(got == [42, 42, 42], f"awaiting a task that returned 42 gave {got}")

    loop.run(scenario())


def check_a_task_starts_later_not_now(loop: LoopUnderTest) -> None:
    """Creating a Task runs none of its coroutine; the first step comes on a later turn."""

    async def scenario() -> None:
        started: list[float] = []

        async def child() -> None:
            started.append(loop.now())

        task = loop.Task(child())
        require(started == [], "creating a Task ran its coroutine synchronously")
        await task
        require(started == [0.0], f"the task ran at {started}, expected once at t=0")

    loop.run(scenario())


def check_keyboard_interrupt_leaves_run_and_is_kept_by_its_task(loop: LoopUnderTest) -> None:
    """A SystemExit or KeyboardInterrupt in a task propagates out of run, and is the task's."""
    for kind in (SystemExit, KeyboardInterrupt):
        tasks: list[FutureLike] = []

        async def scenario(
            kind: type[BaseException] = kind, tasks: list[FutureLike] = tasks
        ) -> None:
            async def leaving() -> None:
                await loop.sleep(1)
                raise kind("from the task")

            tasks.append(loop.Task(leaving()))
            await loop.sleep(5)

        caught: BaseException | None = None
        try:
            loop.run(scenario())
        except kind as exc:
            caught = exc
        require(caught is not None, f"a {kind.__name__} in a task did not propagate out of run()")
        task = tasks[0]
        require(task.done(), f"the task that raised {kind.__name__} is not done")
        require(task.exception() is caught, f"the task does not keep its {kind.__name__}")


def check_there_is_no_running_loop_outside_run(loop: LoopUnderTest) -> None:
    """Asking for the loop's time with no loop running raises RuntimeError."""
    try:
        loop.now()
    except RuntimeError:
        return
    raise AssertionError("now() outside run() did not raise RuntimeError")
