"""Reference servers: round trips per second and streaming MB/s, next to asyncio, uvloop, trio.

Every server is measured by the same client program (``benchmarks.echo_client``,
blocking sockets, run as a subprocess), on loopback:

* ping-pong round trips per second with 1 B, 1 KiB and 64 KiB payloads;
* streaming: MB/s echoed with 1 MiB in flight.

In three placements (``--mode``, repeatable; all three by default):

* **pinned**: the server and the client each started with ``taskset -c 0``,
  both on one CPU, so every wake-up is a context switch on that CPU: this
  measures each server's CPU cost per round trip, and is the steadiest;
* **split**: the server on CPU 0, the client on CPU 1, so every wake-up crosses
  cores (40-70 µs on this machine): latency-bound, the servers draw together;
* **unpinned**: the scheduler places them, and moves them: each figure is a
  mixture of the two above, whichever the scheduler chose in that window.

All servers run side by side during a mode, and each repeat measures them in a
rotated order, so that a burst of noise from other work on the machine does
not always land on the same server. Ratios are taken within a repeat: server /
asyncio streams, measured seconds apart.

Usage: ``python -m benchmarks servers`` (or ``python -m benchmarks.servers``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import subprocess
import sys
from collections.abc import Sequence

from benchmarks.common import (
    CORPUS,
    PYTHON,
    ROOT,
    available_cpus,
    can_pin,
    fmt_summary,
    pin_prefix,
    ratios,
    spawn,
    summary,
    table,
)

BASELINE = "asyncio streams"
#: (name, command); every command takes ``--port 0`` and announces its port.
SERVERS: list[tuple[str, list[str]]] = [
    ("blocking (impl.blocking_echo)", [PYTHON, "-m", "impl.blocking_echo"]),
    ("select (impl.select_echo)", [PYTHON, "-m", "impl.select_echo"]),
    ("loop (impl.async_echo)", [PYTHON, "-m", "impl.async_echo"]),
    (BASELINE, [PYTHON, str(CORPUS / "correct_asyncio_streams.py")]),
    ("asyncio Protocol", [PYTHON, str(CORPUS / "correct_asyncio_protocol.py")]),
    ("uvloop Protocol", [PYTHON, "-m", "benchmarks.uvloop_echo"]),
    ("trio", [PYTHON, str(CORPUS / "correct_trio.py")]),
]
#: The servers whose target is "at least 1.0x asyncio streams".
TARGETED = ("select (impl.select_echo)", "loop (impl.async_echo)")
METRICS: list[tuple[str, str]] = [
    ("pingpong_1", "1 B rt/s"),
    ("pingpong_1024", "1 KiB rt/s"),
    ("pingpong_65536", "64 KiB rt/s"),
    ("stream_mb_s", "stream MB/s"),
]
#: Seconds per figure of the untimed warm-up run against each server.
WARM_UP_SECONDS = 0.05
#: A client run that takes longer than this is killed (it has bounded loops anyway).
CLIENT_TIMEOUT = 120.0


def available_servers() -> list[tuple[str, list[str]]]:
    if importlib.util.find_spec("uvloop") is None:
        return [s for s in SERVERS if not s[0].startswith("uvloop")]
    return SERVERS


def measure_once(port: int, cpu: int | None, seconds: float) -> dict[str, float] | str:
    """One client run against one server: its figures, or why it failed."""
    argv = [
        *pin_prefix(cpu),
        PYTHON,
        "-m",
        "benchmarks.echo_client",
        "--port",
        str(port),
        "--seconds",
        str(seconds),
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=CLIENT_TIMEOUT, check=False, text=True, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return f"the client did not finish within {CLIENT_TIMEOUT:g} s"
    try:
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return f"the client printed no figures: {done.stderr.strip()[-200:]}"
    if "error" in figures:
        return str(figures["error"])
    return {key: float(value) for key, value in figures.items()}


MODES = ("pinned", "split", "unpinned")
DESCRIPTIONS = {
    "pinned": "server and client both on one CPU (taskset -c {server})",
    "split": "server on CPU {server}, client on CPU {client}: every wake-up crosses cores",
    "unpinned": "placed (and moved) by the scheduler",
}


def placement(mode: str) -> tuple[int | None, int | None] | None:
    """(server CPU, client CPU) for a mode; None if this machine cannot do it."""
    if mode == "unpinned":
        return None, None
    if not can_pin():
        return None
    cpus = available_cpus()
    if mode == "pinned":
        return cpus[0], cpus[0]
    if len(cpus) < 2:
        return None
    return cpus[0], cpus[1]


def run(
    repeats: int = 5,
    seconds: float = 0.15,
    modes: Sequence[str] = MODES,
    log: bool = True,
) -> dict[str, object]:
    servers = available_servers()
    names = [name for name, _ in servers]
    results: dict[str, object] = {
        "repeats": repeats,
        "seconds": seconds,
        "servers": names,
        "baseline": BASELINE,
        "modes": {},
        "placements": {},
        "errors": [],
    }
    errors: list[str] = []
    for mode in modes:
        cpus = placement(mode)
        if cpus is None:
            errors.append(f"{mode} mode skipped: needs taskset and enough CPUs")
            continue
        server_cpu, client_cpu = cpus
        results["placements"][mode] = DESCRIPTIONS[mode].format(  # type: ignore[index]
            server=server_cpu, client=client_cpu
        )
        figures: dict[str, dict[str, list[float]]] = {
            name: {key: [] for key, _ in METRICS} for name in names
        }
        with contextlib.ExitStack() as stack:
            ports = {
                name: stack.enter_context(spawn(name, [*argv, "--port", "0"], server_cpu)).port
                for name, argv in servers
            }
            # Untimed: a server's first connections are slower (lazy imports, the
            # interpreter's specialisation warming up) and would mark repeat 1.
            for name in names:
                measure_once(ports[name], client_cpu, WARM_UP_SECONDS)
            for repeat in range(repeats):
                shift = repeat % len(names)
                for name in names[shift:] + names[:shift]:
                    if log:
                        print(
                            f"  servers: {mode}, repeat {repeat + 1}/{repeats}, {name}",
                            file=sys.stderr,
                            flush=True,
                        )
                    measured = measure_once(ports[name], client_cpu, seconds)
                    if isinstance(measured, str):
                        errors.append(f"{mode}, {name}, repeat {repeat + 1}: {measured}")
                        for key, _ in METRICS:
                            figures[name][key].append(math.nan)
                        continue
                    for key, _ in METRICS:
                        figures[name][key].append(measured[key])
        results["modes"][mode] = figures  # type: ignore[index]
    results["errors"] = errors
    return results


def _clean(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def ratio_values(figures: dict[str, dict[str, list[float]]], name: str, key: str) -> list[float]:
    """Repeat-by-repeat ratios of ``name`` over the baseline (pairs with a failure dropped)."""
    pairs = [
        (n, d)
        for n, d in zip(figures[name][key], figures[BASELINE][key], strict=True)
        if not (math.isnan(n) or math.isnan(d))
    ]
    return ratios([n for n, _ in pairs], [d for _, d in pairs])


def report(results: dict[str, object]) -> str:
    out: list[str] = []
    modes: dict[str, dict[str, dict[str, list[float]]]] = results["modes"]  # type: ignore[assignment]
    names: list[str] = results["servers"]  # type: ignore[assignment]
    placements: dict[str, str] = results.get("placements", {})  # type: ignore[assignment]
    for mode, figures in modes.items():
        how = placements.get(mode, mode)
        out.append(
            f"### Reference servers, {mode}: {how}\n\n"
            f"median (min-max) over {results['repeats']} repeats of "
            f"{results['seconds']} s per figure\n"
        )
        rows = [
            [name] + [fmt_summary(summary(_clean(figures[name][key]))) for key, _ in METRICS]
            for name in names
        ]
        out.append(table(["server", *[label for _, label in METRICS]], rows))
        out.append(
            f"\nRatio to {BASELINE} in the same repeat, median (min-max); "
            "the target is >= 1.00 for select and loop\n"
        )
        rows = []
        for name in names:
            if name == BASELINE:
                continue
            rows.append(
                [name]
                + [fmt_summary(summary(ratio_values(figures, name, key)), 2) for key, _ in METRICS]
            )
        out.append(table(["server", *[label for _, label in METRICS]], rows))
        verdicts = []
        for name in TARGETED:
            if name not in figures:
                continue
            below = [
                label
                for key, label in METRICS
                if summary(ratio_values(figures, name, key))["median"] < 1.0
            ]
            verdicts.append(
                f"- {name}: "
                + (
                    "at or above 1.0x on every figure"
                    if not below
                    else "below 1.0x on " + ", ".join(below)
                )
            )
        out.append("\n" + "\n".join(verdicts) + "\n")
    errors: list[str] = results.get("errors", [])  # type: ignore[assignment]
    if errors:
        out.append("Errors:\n" + "\n".join(f"- {e}" for e in errors) + "\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.15, help="per figure")
    parser.add_argument("--mode", choices=MODES, action="append", help="default: all three")
    args = parser.parse_args(argv)
    results = run(args.repeats, args.seconds, args.mode or MODES)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
