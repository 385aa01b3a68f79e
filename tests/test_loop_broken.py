"""Each broken variant of the loop is rejected by the spec check for the promise it breaks."""

from __future__ import annotations

import pytest

from spec.loop import programs as p
from spec.loop.subject import reference
from tests import broken_loops as broken


@pytest.mark.parametrize(
    ("variant", "check"), broken.BROKEN, ids=[v.name for v, _ in broken.BROKEN]
)
def test_a_broken_variant_fails_the_check_of_the_promise_it_breaks(variant, check):
    with pytest.raises(AssertionError):
        check(variant)


CHECKS_USED = sorted({check for _, check in broken.BROKEN}, key=lambda check: check.__name__)


@pytest.mark.parametrize("check", CHECKS_USED, ids=lambda check: check.__name__)
def test_the_checks_that_reject_the_variants_accept_the_reference_loop(check):
    check(reference())


def test_every_variant_breaks_something_different():
    names = [variant.name for variant, _ in broken.BROKEN]
    assert len(names) == len(set(names)) >= 15


TWO_WAITERS = p.Program(
    tasks=(
        (p.Step(0, p.WaitEvent(0)),),
        (p.Step(0, p.WaitEvent(0)),),
        (p.Step(1, p.SetEvent(0)),),
    ),
    events=1,
    futures=0,
)

JOIN_A_FAILURE = p.Program(
    tasks=((p.Step(1, p.Raise()),), (p.Step(0, p.JoinTask(0)),)),
    events=0,
    futures=0,
)

CANCEL_A_SLEEPER = p.Program(
    tasks=((p.Step(0, p.Tick()), p.Step(3, p.Tick())), (p.Step(1, p.CancelTask(0)),)),
    events=0,
    futures=0,
)

TIMERS = p.Program(
    tasks=((p.Step(3, p.Tick()),), (p.Step(1, p.Tick()),), (p.Step(2, p.Tick()),)),
    events=0,
    futures=0,
)


@pytest.mark.parametrize(
    ("variant", "program"),
    [
        (broken._variant("one waiter", Event=broken.OneWaiterEvent), TWO_WAITERS),
        (broken._variant("swallowing", Task=broken.SwallowingTask), JOIN_A_FAILURE),
        (broken._variant("late cancel", Task=broken.LateCancelTask), CANCEL_A_SLEEPER),
        (
            broken._variant("oversleeping", run=broken._runner(timers=broken.LatestDeadlineTimers)),
            TIMERS,
        ),
    ],
    ids=["one-waiter-event", "swallowing-task", "late-cancel", "oversleeping-timers"],
)
def test_the_differential_programs_catch_broken_variants_too(variant, program):
    with pytest.raises(AssertionError, match="traces differ"):
        p.check_matches_trio(variant, program)
    with pytest.raises(AssertionError, match="traces differ"):
        p.check_matches_asyncio(variant, program)
