"""binary and abinary: one recursion, by yield from and by await."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.binary import abinary, abinary_leaves, binary, binary_leaves, run, run_counting
from spec.binary import (
    check_article_printout,
    check_driver,
    check_driver_agrees_with_await,
    check_finishes_at_first_send,
    check_not_interchangeable,
    check_suspends_once_per_leaf,
    leaves,
    nodes,
)

heights = st.integers(-3, 9)


@pytest.mark.parametrize("factory", [binary, abinary])
@given(n=heights)
def test_binary_and_abinary_count_the_nodes_at_their_first_send(factory, n):
    check_finishes_at_first_send(factory, n)


@pytest.mark.parametrize("factory", [binary, abinary])
@given(n=heights)
def test_the_driver_runs_either_kind_to_its_value_without_an_event_loop(factory, n):
    check_driver(run, factory, n)


@given(n=heights)
async def test_the_driver_agrees_with_awaiting_abinary_under_trio(n):
    await check_driver_agrees_with_await(run, abinary, n)


@pytest.mark.parametrize("factory", [binary_leaves, abinary_leaves])
@given(n=heights)
def test_leaf_suspending_variants_suspend_exactly_once_per_leaf(factory, n):
    check_suspends_once_per_leaf(factory, n)


@given(n=heights)
def test_the_impl_driver_counts_the_same_suspensions(n):
    assert (
        run_counting(binary_leaves(n)) == run_counting(abinary_leaves(n)) == (nodes(n), leaves(n))
    )


def test_the_article_calls_binary_5_and_abinary_5_sixty_three():
    assert run(binary(5)) == run(abinary(5)) == nodes(5) == 63


def test_binary_and_abinary_compute_alike_but_are_not_interchangeable():
    check_not_interchangeable(binary, abinary)


def test_python_dash_m_impl_binary_prints_the_article_lines():
    result = subprocess.run(
        [sys.executable, "-m", "impl.binary"], capture_output=True, text=True, check=True
    )
    check_article_printout(result.stdout)
