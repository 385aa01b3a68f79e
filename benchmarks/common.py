"""What every benchmark shares: summaries of repeated runs, tables, and servers it starts.

Figures from this machine are noisy (two cores, other work running), so every
figure is a set of repeated runs summarised as min / median / max, and every
comparison is a ratio of two figures measured in the same repeat, summarised
the same way. A ratio from one run is worth more than two absolute figures
from different runs.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PYTHON = sys.executable
#: How long a server may take to print its ``listening on HOST:PORT`` line.
STARTUP_TIMEOUT = 20.0
#: How long a server gets between SIGTERM and SIGKILL.
STOP_GRACE = 3.0


def summary(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of repeated measurements; NaN (a failed run) is left out."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        nan = float("nan")
        return {"min": nan, "median": nan, "max": nan}
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios: repeat i of one figure over repeat i of another (same run)."""
    return [
        n / d
        for n, d in zip(numerators, denominators, strict=True)
        if d > 0 and not math.isnan(n) and not math.isnan(d)
    ]


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    if digits == 0 and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_summary(values: dict[str, float], digits: int = 0) -> str:
    """``median (min-max)``, the form every table uses; ``-`` when nothing was measured."""
    if values["median"] != values["median"]:
        return "-"
    return (
        f"{fmt(values['median'], digits)} "
        f"({fmt(values['min'], digits)}-{fmt(values['max'], digits)})"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A Markdown table (it reads well in a terminal too). ``align``: one l/r per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (w - 1) + ":" if a == "r" else "-" * w for w, a in zip(widths, align, strict=True)
    ]
    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *map(line, rows)])


def declared(path: Path, name: str) -> object:
    """A module-level constant of a corpus server, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return None


def corpus_servers() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.py") if p.name != "server_cli.py")


def pin_prefix(cpu: int | None) -> list[str]:
    """``taskset -c CPU`` to pin a command, or nothing; SystemExit if taskset is missing."""
    if cpu is None:
        return []
    taskset = shutil.which("taskset")
    if taskset is None:
        raise SystemExit("pinned runs need taskset (util-linux)")
    return [taskset, "-c", str(cpu)]


def available_cpus() -> list[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def can_pin() -> bool:
    return shutil.which("taskset") is not None


@dataclass
class Server:
    """A server process this benchmark started, and the port it announced."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    stderr: IO[bytes]

    def alive(self) -> bool:
        return self.process.poll() is None

    def last_words(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""


def read_announcement(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The port from the ``listening on HOST:PORT`` line, or None if it did not come in time."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffered:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return None
            buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode(errors="replace")
    if not line.startswith("listening on "):
        return None
    return int(line.rsplit(":", 1)[1])


@contextlib.contextmanager
def spawn(name: str, argv: Sequence[str], cpu: int | None = None) -> Iterator[Server]:
    """Start a server (``--port 0`` in ``argv``), wait for its port, stop it on the way out.

    The server prints one line on stdout and nothing after that (every server
    measured here promises so); stderr goes to a temporary file, for errors.
    """
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [*pin_prefix(cpu), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            port = read_announcement(process, STARTUP_TIMEOUT)
            server = Server(name, process, port or 0, stderr)
            if port is None:
                raise RuntimeError(f"{name} did not announce its port: {server.last_words()}")
            yield server
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a bounded wait, SIGKILL; by PID only."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_GRACE)
    if process.stdout is not None:
        process.stdout.close()


def now_stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime())


def machine_note() -> str:
    """One line about where the figures come from."""
    cpus = len(available_cpus())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    version = sys.version.split()[0]
    return f"Python {version}, {cpus} CPUs available, load average {load}"
