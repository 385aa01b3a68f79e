"""Suite wall time per tox environment: ``tox -e ENV``, one environment at a time.

For each of ``py310``, ``py311``, ``py312``, ``py313``, ``lint`` and ``type``
(tox.ini's ``env_list``): a warm-up ``tox -e ENV --notest`` that creates the
environment and installs the project if it is not there yet (untimed), then the
timed run, ``tox -e ENV``, exactly as a developer types it with the
environment in place (tox still rebuilds and reinstalls the editable package,
which the figure includes). tox's own last line (``py311: OK (83.10=setup
2.01+cmd 81.09 seconds)``) gives the split between setup and commands.

``HYPOTHESIS_PROFILE`` is removed from the environment, so that the suite runs
under tox.ini's default (``dev``) even from ``tox -e bench``. A missing tox or
interpreter is a row saying so, not a failure. The sum of the rows is what the
README's plain ``tox`` (all six, one after another) costs once the
environments exist. tox is found as ``python -m tox`` or as ``tox`` on ``PATH``.

Slow: the whole suite once per interpreter. Usage:
``python -m benchmarks suite_wall`` (or ``python -m benchmarks.suite_wall
[ENV ...] [-- PYTEST_ARGS]``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from benchmarks.common import PYTHON, ROOT, fmt, table

ENVS = ("py310", "py311", "py312", "py313", "lint", "type")
#: The issue's targets: ``tox -e py311`` and the whole ``tox`` command, in seconds.
TARGET_PY311_S = 90.0
TARGET_ALL_S = 480.0
#: One tox invocation must finish within this.
TOX_TIMEOUT = 1800.0
#: tox's line per environment, like ``py311: OK (83.10=setup[2.01]+cmd[81.09] seconds)``
#: (one figure per command inside ``cmd[...]``).
RESULT = re.compile(
    r"^\s*(?P<env>[\w.-]+): (?P<status>OK|FAIL|SKIP)\b[^(]*"
    r"(?:\((?P<total>[\d.]+)(?:=setup\[(?P<setup>[\d.]+)\]\+cmd\[(?P<cmd>[\d.,]+)\])?"
    r" seconds\))?"
)


def tox_command() -> list[str] | None:
    if importlib.util.find_spec("tox") is not None:
        return [PYTHON, "-m", "tox"]
    found = shutil.which("tox")
    return [found] if found else None


def interpreter(env: str) -> str | None:
    """``python3.X`` for a ``py3X`` env, if it is on ``PATH``; lint and type use any."""
    match = re.fullmatch(r"py3(\d+)", env)
    if match is None:
        return PYTHON
    found = shutil.which(f"python3.{match[1]}")
    if found is None:
        return None
    try:  # a pyenv shim is on PATH even when its version is not selected
        works = subprocess.run(
            [found, "-c", "pass"], capture_output=True, timeout=30, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        return None
    return found if works == 0 else None


def call(argv: list[str]) -> tuple[int, str, float]:
    """Run ``argv`` in its own session; on timeout, stop its whole process group (its tests)."""
    env = {**os.environ}
    env.pop("HYPOTHESIS_PROFILE", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TOX_TIMEOUT)
        status = process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        status = -1
    return status, output or "", time.perf_counter() - started


def run(
    envs: list[str] | None = None, posargs: list[str] | None = None, log: bool = True
) -> dict[str, object]:
    tox = tox_command()
    rows: list[dict[str, object]] = []
    for env in envs or list(ENVS):
        row: dict[str, object] = {"env": env}
        rows.append(row)
        if tox is None:
            row["note"] = "tox missing (pip install tox)"
            continue
        if interpreter(env) is None:
            row["note"] = f"interpreter missing (python3.{env[3:]} does not run here)"
            continue
        extra = ["--", *posargs] if posargs and env.startswith("py") else []
        if log:
            print(f"  suite wall: {env}, warm-up (--notest)", file=sys.stderr, flush=True)
        status, output, seconds = call([*tox, "-e", env, "--notest"])
        row["warm_up_s"] = seconds
        if status != 0:
            row["note"] = f"warm-up failed (exit status {status}): {output.strip()[-200:]}"
            continue
        if log:
            print(f"  suite wall: {env}, timed run", file=sys.stderr, flush=True)
        status, output, seconds = call([*tox, "-e", env, *extra])
        row["wall_s"] = seconds
        row["exit_status"] = status
        for line in output.splitlines():
            match = RESULT.match(line)
            if match and match["env"] == env:
                row["tox_status"] = match["status"]
                row["setup_s"] = float(match["setup"]) if match["setup"] else None
                row["cmd_s"] = (
                    sum(float(x) for x in match["cmd"].split(",")) if match["cmd"] else None
                )
        summary_line = [
            line for line in output.splitlines() if re.search(r"\d+ passed|\bfailed\b", line)
        ]
        row["outcome"] = summary_line[-1].strip("= ") if summary_line else ""
        if status == -1:
            row["note"] = f"timed out after {TOX_TIMEOUT:g} s (stopped)"
        if row.get("tox_status") == "SKIP":
            row["note"] = "skipped by tox (interpreter not found)"
    return {"posargs": posargs or [], "tox": " ".join(tox or []), "rows": rows}


def report(results: dict[str, object]) -> str:
    rows: list[dict[str, object]] = results["rows"]  # type: ignore[assignment]
    lines = []
    total = 0.0
    measured = []
    for row in rows:
        if "wall_s" not in row:
            lines.append([str(row["env"]), "-", "-", "-", "-", "-", str(row.get("note", ""))])
            continue
        wall = float(row["wall_s"])  # type: ignore[arg-type]
        total += wall
        measured.append(str(row["env"]))
        setup, cmd = row.get("setup_s"), row.get("cmd_s")
        lines.append(
            [
                str(row["env"]),
                fmt(wall, 1),
                "-" if setup is None else fmt(float(setup), 1),  # type: ignore[arg-type]
                "-" if cmd is None else fmt(float(cmd), 1),  # type: ignore[arg-type]
                "-" if setup is None or cmd is None else fmt(wall - float(setup) - float(cmd), 1),  # type: ignore[arg-type]
                f"{row.get('tox_status', '?')} ({row['exit_status']})",
                (
                    str(row.get("note", ""))
                    or str(row.get("outcome", ""))
                    or ("timed out (stopped)" if row["exit_status"] == -1 else "")
                )[:60].replace("|", "/"),
            ]
        )
    lines.append(["**sum**", fmt(total, 1), "", "", "", "", ", ".join(measured)])
    posargs: list[str] = results["posargs"]  # type: ignore[assignment]
    out = [
        "### Suite wall time per tox environment: `tox -e ENV`, one at a time"
        + (f", pytest arguments `{' '.join(posargs)}`" if posargs else "")
        + "\n",
        "One timed run each, after an untimed `tox -e ENV --notest` that creates the "
        "environment. Seconds: the whole tox command; setup and commands as tox reports them; "
        "the rest is tox's start-up and building and installing the package.\n",
        table(
            ["env", "wall s", "setup s", "cmd s", "rest s", "status", "outcome"],
            lines,
            "lrrrrll",
        ),
    ]
    py311 = next((r for r in rows if r["env"] == "py311" and "wall_s" in r), None)
    if py311 is not None and not posargs:
        wall = float(py311["wall_s"])  # type: ignore[arg-type]
        met = "met" if wall <= TARGET_PY311_S else "NOT met"
        out.append(
            f"\nTarget: `tox -e py311` in {TARGET_PY311_S:g} s or less: {wall:.0f} s: {met}."
        )
    if len(measured) == len(ENVS) and not posargs:
        met = "met" if total <= TARGET_ALL_S else "NOT met"
        out.append(f"Target: all six in {TARGET_ALL_S:g} s or less: {total:.0f} s: {met}.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="*", help=f"any of {', '.join(ENVS)} (default: all)")
    parser.add_argument("--pytest-args", nargs="*", default=None, help="passed after tox's --")
    args = parser.parse_args(argv)
    print(report(run(args.envs or None, args.pytest_args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
