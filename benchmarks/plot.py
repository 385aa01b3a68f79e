"""Draw ``benchmarks/results.png`` from the saved results (matplotlib, Agg backend).

One panel per figure the tables print: fuzzer throughput and where a step's
time goes, time to find per broken server, suite cost per module, and the
reference servers' ratios to asyncio streams, pinned and unpinned. A benchmark
that has never run leaves its panel with a note instead of bars. Each panel's
title says when its figures were measured.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks import default_run, fuzz_throughput, servers, time_to_find, usage_errors
from benchmarks.common import summary


def _missing(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}: not run yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _errors(values: list[list[float]]) -> tuple[list[float], list[list[float]]]:
    """Medians, and (below, above) distances to min and max, for error bars."""
    medians, low, high = [], [], []
    for v in values:
        s = summary([x for x in v if not math.isnan(x)])
        medians.append(s["median"])
        low.append(s["median"] - s["min"])
        high.append(s["max"] - s["median"])
    return medians, [low, high]


def throughput_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "fuzzer throughput")
    runs = section["results"]["runs"]
    kinds = [
        ("ceiling3", "Hypothesis\n3 trivial rules", "#666666"),
        ("ceiling", "Hypothesis\n10 no-op rules", "#999999"),
        ("select", "echo machine\nvs select", "#1f77b4"),
        ("threads", "echo machine\nvs threads", "#2ca02c"),
    ]
    kinds = [k for k in kinds if runs.get(k[0])]  # older results have no 3-rule ceiling
    values = [[r["steps"] / r["seconds"] for r in runs[k]] for k, _, _ in kinds]
    medians, spread = _errors(values)
    ax.bar(
        [label for _, label, _ in kinds],
        medians,
        yerr=spread,
        capsize=4,
        color=[colour for _, _, colour in kinds],
    )
    target = fuzz_throughput.TARGET_FRACTION * medians[0]
    ax.axhline(
        target,
        color="#d62728",
        linestyle="--",
        linewidth=1,
        label=f"target: {fuzz_throughput.TARGET_FRACTION}x the {kinds[0][1].split(chr(10))[1]}",
    )
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    for i, m in enumerate(medians):
        ax.text(i, m, f"{m:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("steps per second (median, min-max)")
    ax.set_title(f"Fuzzer throughput, small payloads ({section['when']})", fontsize=10)


def breakdown_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "throughput breakdown")
    parts = fuzz_throughput.breakdown(section["results"])
    left = 0.0
    colours = ["#999999", "#9467bd", "#1f77b4", "#2ca02c", "#cccccc"]
    for (name, value, _), colour in zip(parts, colours, strict=False):
        width = max(value, 0.0)
        ax.barh(
            [0], [width], left=left, color=colour, label=f"{name.split(' (')[0]}: {value:.0f} µs"
        )
        left += width
    ax.set_yticks([])
    ax.set_xlabel("µs per step (medians), against impl.select_echo")
    ax.set_ylim(-0.6, 2.6)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_title(f"Where a fuzzer step's time goes ({section['when']})", fontsize=10)


def time_to_find_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "time to find")
    rows = [r for r in section["results"]["rows"] if r["expected"] == "caught"]
    rows.sort(key=lambda r: r["find_s"] if r["find_s"] is not None else math.inf)
    names = [r["server"].replace("_", " ") for r in rows]
    found = [r["find_s"] if r["find_s"] is not None else 0.0 for r in rows]
    colours = ["#1f77b4" if r["find_s"] is not None else "#d62728" for r in rows]
    ax.barh(names, found, color=colours)
    for i, r in enumerate(rows):
        label = f" {r['cases']} cases, {r['steps']} steps" if r["find_s"] is not None else " missed"
        ax.text(found[i], i, label, va="center", fontsize=6)
    ax.axvline(time_to_find.TARGET_MEDIAN_S, color="#d62728", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=6)
    ax.set_xlabel("seconds to the first failure (shrunk length in label)")
    ax.set_title(f"Time to find, broken corpus servers ({section['when']})", fontsize=10)


def suite_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "suite cost")
    modules = section["results"]["modules"]
    ordered = sorted(
        modules.items(), key=lambda kv: -(kv[1]["setup"] + kv[1]["call"] + kv[1]["teardown"])
    )
    shown = ordered[:14]
    names = [m.replace("tests/", "") for m, _ in shown]
    seconds = [t["setup"] + t["call"] + t["teardown"] for _, t in shown]
    ax.barh(names, seconds, color="#8c564b")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    wall = section["results"]["wall_s"]
    ax.set_xlabel(f"seconds per module (wall time of the run: {wall:.0f} s)")
    ax.set_title(f"Suite cost, slowest modules ({section['when']})", fontsize=10)


def servers_panel(ax: Axes, section: dict[str, Any] | None, mode: str) -> None:
    if section is None or mode not in section["results"]["modes"]:
        return _missing(ax, f"reference servers, {mode}")
    results = section["results"]
    figures = results["modes"][mode]
    names = [n for n in results["servers"] if n != servers.BASELINE]
    width = 0.8 / len(servers.METRICS)
    for j, (key, label) in enumerate(servers.METRICS):
        values = [servers.ratio_values(figures, name, key) for name in names]
        medians, spread = _errors(values)
        positions = [i + (j - (len(servers.METRICS) - 1) / 2) * width for i in range(len(names))]
        ax.bar(positions, medians, width, yerr=spread, capsize=2, label=label)
    ax.axhline(1.0, color="#d62728", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.split(" (")[0] for n in names], fontsize=8, rotation=15)
    ax.set_ylabel(f"ratio to {servers.BASELINE} (same repeat)")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    ax.set_title(f"Reference servers, {mode} ({section['when']})", fontsize=10)


def absolute_panel(ax: Axes, section: dict[str, Any] | None, mode: str) -> None:
    if section is None or mode not in section["results"]["modes"]:
        return _missing(ax, f"reference servers, {mode}, absolute")
    results = section["results"]
    figures = results["modes"][mode]
    names = results["servers"]
    medians, spread = _errors([figures[name]["pingpong_1"] for name in names])
    positions = range(len(names))
    ax.bar(
        positions,
        [m / 1000 for m in medians],
        0.4,
        yerr=[[v / 1000 for v in side] for side in spread],
        capsize=2,
        color="#1f77b4",
        label="1 B round trips/s (thousands)",
    )
    streams, stream_spread = _errors([figures[name]["stream_mb_s"] for name in names])
    twin = ax.twinx()
    twin.bar(
        [i + 0.4 for i in positions],
        streams,
        0.4,
        yerr=stream_spread,
        capsize=2,
        color="#d62728",
        label="stream MB/s (right axis)",
    )
    ax.set_xticks([i + 0.2 for i in positions])
    ax.set_xticklabels([n.split(" (")[0] for n in names], fontsize=8, rotation=15)
    ax.set_ylabel("1 B round trips per second, thousands")
    twin.set_ylabel("stream MB/s")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    ax.set_ylim(top=ax.get_ylim()[1] * 1.2)
    twin.set_ylim(top=twin.get_ylim()[1] * 1.2)
    ax.legend(handles, labels, fontsize=7, frameon=False, loc="upper center", ncol=2)
    ax.set_title(f"Reference servers, {mode}, absolute ({section['when']})", fontsize=10)


def default_run_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "default run")
    runs = section["results"]["runs"]
    names = list(runs)
    values = [[r["wall_s"] for r in runs[n] if r["exit_status"] == 0] for n in names]
    medians, spread = _errors(values)
    ax.bar(names, medians, yerr=spread, capsize=4, color="#1f77b4")
    ax.axhline(default_run.TARGET_S, color="#d62728", linestyle="--", linewidth=1, label="target")
    for i, m in enumerate(medians):
        ax.text(i, m, f"{m:.1f}", ha="center", va="bottom", fontsize=8)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylabel("seconds, whole command (median, min-max over seeds)")
    ax.set_title(f"Default echofuzz run per correct server ({section['when']})", fontsize=10)


def usage_errors_panel(ax: Axes, section: dict[str, Any] | None) -> None:
    if section is None:
        return _missing(ax, "usage errors")
    runs = section["results"]["runs"]
    names = list(runs)
    values = [[float(x) for x in runs[n]["seconds"]] for n in names]
    medians, spread = _errors(values)
    labels = [n.replace("reference: ", "").replace("floor: ", "") for n in names]
    ax.barh(labels, medians, xerr=spread, capsize=3, color="#2ca02c")
    ax.axvline(usage_errors.TARGET_S, color="#d62728", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("seconds (median, min-max); dashed: target")
    ax.set_title(f"Usage errors: python -m echofuzz ... ({section['when']})", fontsize=10)


def draw(saved: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(5, 2, figsize=(15, 25), layout="constrained")
    throughput_panel(axes[0][0], saved.get("throughput"))
    breakdown_panel(axes[0][1], saved.get("throughput"))
    time_to_find_panel(axes[1][0], saved.get("time_to_find"))
    suite_panel(axes[1][1], saved.get("suite"))
    servers_panel(axes[2][0], saved.get("servers"), "pinned")
    absolute_panel(axes[2][1], saved.get("servers"), "pinned")
    servers_panel(axes[3][0], saved.get("servers"), "split")
    servers_panel(axes[3][1], saved.get("servers"), "unpinned")
    default_run_panel(axes[4][0], saved.get("default_run"))
    usage_errors_panel(axes[4][1], saved.get("usage_errors"))
    fig.suptitle("demystify-async benchmarks (medians; bars span min-max over repeats)")
    fig.savefig(path, dpi=80)
    plt.close(fig)
