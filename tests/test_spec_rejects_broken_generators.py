"""The specification is itself tested: every broken variant must be rejected.

Each test runs one check under Hypothesis against one deliberately broken
implementation from tests/broken_generators.py and requires an
AssertionError. Only the generate phase runs: finding one counterexample is
the point, shrinking it is not. The search is derandomized, so that a
rejection found once is found every time (for a given Hypothesis version), and
nothing is written to the example database.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from impl import binary, coroutine_trace, pep380, power
from spec import binary as binary_spec
from spec import coroutine_trace as trace_spec
from spec import delegation as delegation_spec
from spec.pep380 import check_yield_from_equivalence
from tests import broken_generators as broken
from tests.test_pep380 import calls, machine_for, programs

FIND_ONE = settings(
    max_examples=2000,
    phases=[Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)

items = st.lists(st.integers(), max_size=5)
bases = st.lists(st.integers(-5, 5), max_size=4)
repeats = st.integers(0, 4)
heights = st.integers(-2, 7)


def assert_rejected(check, *strategies):
    """Run ``check`` on generated arguments until one of them makes it fail."""

    @FIND_ONE
    @given(st.tuples(*strategies))
    def search(args):
        check(*args)

    with pytest.raises(AssertionError):
        search()


@pytest.mark.parametrize(
    "coroutine", [broken.coroutine_announcing_after_yield, broken.coroutine_never_destroyed]
)
def test_a_trace_with_events_swapped_or_missing_is_rejected(coroutine):
    assert_rejected(
        functools.partial(trace_spec.check_trace, coroutine_trace.caller, coroutine), items
    )


def test_a_coroutine_that_says_destroyed_when_closed_early_is_rejected():
    def check(values, data):
        taken = data.draw(st.integers(0, len(values)))
        trace_spec.check_destroyed_means_exhausted(
            broken.coroutine_destroyed_in_finally, values, taken
        )

    assert_rejected(check, items, st.data())


def test_a_coroutine_that_computes_in_the_wrong_turn_is_rejected():
    with pytest.raises(AssertionError, match="sleep"):
        trace_spec.check_article_timing(
            coroutine_trace.caller, broken.coroutine_sleeping_after_yield
        )


@pytest.mark.parametrize(
    "refactored", [broken.power_coroutine_skipping_a_restart, broken.power_coroutine_cubes_first]
)
def test_a_power_coroutine_that_skips_a_restart_or_reorders_is_rejected(refactored):
    check = functools.partial(
        delegation_spec.check_refactor_preserves_behaviour, power.power_coroutine_flat, refactored
    )
    assert_rejected(check, bases, bases, repeats)


@pytest.mark.parametrize(
    "with_returns",
    [broken.power_coroutine_reporting_late, broken.power_coroutine_reporting_nothing],
)
def test_returns_printed_late_or_lost_are_rejected(with_returns):
    check = functools.partial(delegation_spec.check_returns_arrive_in_order, with_returns)
    assert_rejected(check, bases, bases, repeats)


@pytest.mark.parametrize(
    "without",
    [broken.power_coroutine_looping_instead, broken.power_function_draining_subgenerators],
)
def test_a_refactor_that_does_not_fail_as_python_does_is_rejected(without):
    check = functools.partial(delegation_spec.check_refactor_without_yield_from_fails, without)
    assert_rejected(check, bases, bases, repeats)


@pytest.mark.parametrize(
    "factory",
    [broken.binary_off_by_one, broken.abinary_base_case_too_low, broken.abinary_suspending],
)
def test_a_binary_that_miscounts_or_suspends_is_rejected(factory):
    assert_rejected(functools.partial(binary_spec.check_finishes_at_first_send, factory), heights)


@pytest.mark.parametrize(
    "factory", [broken.binary_leaves_suspending_twice, broken.abinary_leaves_never_suspending]
)
def test_a_leaf_variant_that_suspends_twice_or_never_is_rejected(factory):
    assert_rejected(functools.partial(binary_spec.check_suspends_once_per_leaf, factory), heights)


def test_a_driver_that_returns_the_wrong_value_is_rejected():
    check = functools.partial(
        binary_spec.check_driver, broken.run_returning_last_yield, binary.abinary
    )
    assert_rejected(check, heights)


@pytest.mark.parametrize("variant", broken.BROKEN_EXPANSIONS, ids=repr)
def test_a_broken_pep380_expansion_is_rejected_by_the_check(variant):
    check = functools.partial(check_yield_from_equivalence, variant)
    assert_rejected(check, programs, calls)


@pytest.mark.parametrize("variant", broken.BROKEN_EXPANSIONS, ids=repr)
def test_a_broken_pep380_expansion_is_rejected_by_the_state_machine(variant):
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            machine_for(variant), settings=settings(FIND_ONE, stateful_step_count=8)
        )


@given(items, heights, programs, calls)
def test_the_real_implementations_pass_the_same_checks(values, height, program, made):
    """The control: with the genuine code the same checks find nothing."""
    trace_spec.check_trace(coroutine_trace.caller, coroutine_trace.coroutine, values)
    binary_spec.check_finishes_at_first_send(binary.binary, height)
    binary_spec.check_suspends_once_per_leaf(binary.abinary_leaves, height)
    check_yield_from_equivalence(pep380, program, made)
