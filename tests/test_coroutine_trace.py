"""The article's first example: a generator and its caller taking turns."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from impl.coroutine_trace import ARTICLE_DELAYS, caller, coroutine, main
from spec.coroutine_trace import (
    ARTICLE_OUTPUT,
    check_article_items,
    check_article_timing,
    check_command_line,
    check_destroyed_means_exhausted,
    check_range_is_not_a_generator,
    check_trace,
    check_values_interleave,
)

items = st.lists(st.integers() | st.text(max_size=3), max_size=8)


@given(items)
def test_caller_and_coroutine_alternate_then_the_coroutine_says_destroyed(values):
    check_trace(caller, coroutine, values)


@given(items)
def test_each_value_is_yielded_right_after_its_resumption(values):
    check_values_interleave(coroutine, values)


def test_the_article_program_sleeps_half_a_second_then_a_quarter_each_turn():
    assert ARTICLE_DELAYS == (0.5, 0.25)
    check_article_timing(caller, coroutine)


@given(items, st.data())
def test_a_coroutine_closed_early_never_says_destroyed(values, data):
    check_destroyed_means_exhausted(coroutine, values, data.draw(st.integers(0, len(values))))


def test_range_is_a_lazy_sequence_not_a_generator():
    check_range_is_not_a_generator()


def test_without_items_the_coroutine_goes_over_the_articles_one_two_three():
    check_article_items(coroutine)


def test_the_command_line_sleeps_the_articles_sleeps_unless_told_not_to():
    check_command_line(main)


def test_main_without_sleeping_prints_the_article_output(capsys):
    main(["--no-sleep"])
    assert capsys.readouterr().out == ARTICLE_OUTPUT


def test_python_dash_m_prints_exactly_the_article_output():
    result = subprocess.run(
        [sys.executable, "-m", "impl.coroutine_trace", "--no-sleep"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == ARTICLE_OUTPUT
