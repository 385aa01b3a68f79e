"""The modules that run with ``python -m``: importing one runs none of it.

Each ends with ``if __name__ == "__main__": main()``; only ``python -m``
makes the condition true. Imported (by the tests, by ``echofuzz --spawn``'s
helpers), a module must print nothing and wait for nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

COMMAND_LINE_MODULES = [
    "impl.async_echo",
    "impl.binary",
    "impl.blocking_echo",
    "impl.coroutine_trace",
    "impl.power",
    "impl.select_echo",
]


@pytest.mark.parametrize("module", COMMAND_LINE_MODULES)
def test_importing_a_command_line_module_runs_none_of_it(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
