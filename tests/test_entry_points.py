"""The modules that run with ``python -m``: importing one runs none of it; a server explains itself.

Each ends with ``if __name__ == "__main__": main()``; only ``python -m``
makes the condition true. Imported (by the tests, by ``echofuzz --spawn``'s
helpers), a module must print nothing and wait for nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impl import async_echo, blocking_echo, select_echo

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


@pytest.mark.parametrize(
    ("main", "description"),
    [
        pytest.param(
            async_echo.main,
            "An RFC 862 echo server written with async/await on impl.loop.",
            id="async_echo",
        ),
        pytest.param(
            blocking_echo.main,
            "Blocking echo server, serving one connection at a time.",
            id="blocking_echo",
        ),
        pytest.param(
            select_echo.main,
            "Echo server: generator tasks resumed by select().",
            id="select_echo",
        ),
    ],
)
def test_a_server_says_what_it_is_in_its_help(main, description, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    assert description in " ".join(capsys.readouterr().out.split())
