"""The mutation runner's own promises: every module has tests, and a score never rounds up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation.selection import MODULES

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_of_impl_but_the_articles_has_a_row_in_the_selection_table():
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "impl").rglob("*.py")
        if "article" not in path.parts
    }
    assert modules == set(MODULES)


def test_a_score_is_rounded_down_so_that_94_96_percent_is_no_pass():
    runner = pytest.importorskip("tests.mutation.__main__", reason="needs cosmic-ray")
    assert runner._percent(9496, 10000) == "94.9%"
    assert runner._percent(19, 20) == "95.0%"
    assert runner._percent(0, 0) == "100.0%"


def test_annotations_and_the_stars_of_signatures_are_not_mutated(tmp_path, monkeypatch):
    runner = pytest.importorskip("tests.mutation.__main__", reason="needs cosmic-ray")
    module = tmp_path / "impl" / "example.py"
    module.parent.mkdir()
    module.write_text(
        "from __future__ import annotations\n\n\n"
        "def f(a: int | None, *, b: float = 2 * 3) -> int | None:\n"
        "    return a\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    found, left_out = runner.mutants("impl/example.py")
    assert {mutant.before for mutant in found} == {
        "def f(a: int | None, *, b: float = 2 * 3) -> int | None:"
    }
    assert all("2 * 3" not in mutant.after for mutant in found)  # only the default's * mutates
    assert left_out > 0
