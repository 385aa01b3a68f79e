"""power_coroutine: refactoring with yield from changes nothing; without it, it breaks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl import power
from spec.delegation import (
    ARTICLE_LISTING,
    NOT_ITERABLE,
    check_an_unknown_version_is_a_usage_error,
    check_article_listing,
    check_refactor_preserves_behaviour,
    check_refactor_without_yield_from_fails,
    check_returns_arrive_in_order,
)

bases = st.lists(st.integers(-10, 10), max_size=6)
repeats = st.integers(0, 5)


@given(bases, bases, repeats)
def test_flat_and_delegating_power_coroutines_yield_the_same_values(squares_of, cubes_of, n):
    check_refactor_preserves_behaviour(
        power.power_coroutine_flat, power.power_coroutine_yield_from, squares_of, cubes_of, n
    )


@given(bases, bases, repeats)
def test_captured_return_values_arrive_in_order(squares_of, cubes_of, n):
    check_returns_arrive_in_order(power.power_coroutine_with_returns, squares_of, cubes_of, n)


@given(bases, bases, repeats)
def test_the_refactor_without_yield_from_prints_every_restart_then_cannot_be_iterated(
    squares_of, cubes_of, n
):
    check_refactor_without_yield_from_fails(
        power.power_coroutine_without_yield_from, squares_of, cubes_of, n
    )


def test_the_article_loop_over_the_refactor_without_yield_from_raises_type_error(capsys):
    with pytest.raises(TypeError) as failure:
        power.run(power.power_coroutine_without_yield_from)
    assert failure.value.args == (NOT_ITERABLE,)
    assert capsys.readouterr().out == "==> restart\n" * 3


def test_python_dash_m_impl_power_prints_the_article_listing():
    result = subprocess.run(
        [sys.executable, "-m", "impl.power"], capture_output=True, text=True, check=True
    )
    check_article_listing(result.stdout)


@pytest.mark.parametrize("version", ["flat", "yield-from"])
def test_the_other_working_versions_print_the_listing_without_the_messages(version, capsys):
    power.main([version])
    messages = {"-> squares done\n", "-> cubes done\n"}
    expected = "".join(
        line for line in ARTICLE_LISTING.splitlines(keepends=True) if line not in messages
    )
    assert capsys.readouterr().out == expected


def test_python_dash_m_impl_power_with_an_unknown_version_is_a_usage_error():
    check_an_unknown_version_is_a_usage_error(power.main)
