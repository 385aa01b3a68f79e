"""Commands that start the servers the echo tests fuzz, and a campaign runner for tests."""

from __future__ import annotations

import sys
from pathlib import Path

import hypothesis

from echofuzz.engine.campaign import Campaign
from echofuzz.engine.targets import SpawnedTarget
from echofuzz.options import FuzzOptions
from echofuzz.result import FuzzResult

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PYTHON = sys.executable


def module_command(module: str) -> str:
    """A --spawn command line that runs ``python -m module --port {port}``."""
    return f"{PYTHON} -m {module} --port {{port}}"


def corpus_command(path: Path) -> str:
    return f"{PYTHON} {path} --port {{port}}"


ARTICLE_SELECT_SERVER = f"{PYTHON} -u {ROOT / 'impl' / 'article' / 'select_server.py'} {{port}}"


def fuzz(command: str, **options: object) -> FuzzResult:
    """Fuzz a spawned server with the test-suite's defaults, overridable per test."""
    settings: dict[str, object] = {
        # The Hypothesis profile (HYPOTHESIS_PROFILE) decides how hard the tests fuzz.
        "max_examples": hypothesis.settings().max_examples,
        "seed": 0,
        "deadline": 1.0,
        "max_payload": 1 << 20,
        # One finding is what most tests ask about; the multi-bug tests ask for more.
        "max_bugs": 1,
    }
    settings.update(options)
    return Campaign(SpawnedTarget(command), FuzzOptions(**settings)).run()  # type: ignore[arg-type]


def describe(result: FuzzResult) -> str:
    """A failure message that shows the reproduction, for assertion output."""
    lines = [
        f"verdict={result.verdict} reason={result.reason}",
        f"reproduced={result.reproduced} history_dependent={result.history_dependent} "
        f"examples={result.examples} notes={result.notes}",
    ]
    for number, step in enumerate(result.reproduction or [], 1):
        lines.append(f"  {number}. {step.describe()}")
    return "\n".join(lines)
