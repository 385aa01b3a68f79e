"""The false-alarm benchmark's bookkeeping: seeds, latency counts, what a verdict means, its table.

Nothing here starts a server: the runs themselves are the benchmark's
(``python -m benchmarks.false_alarms``), and take many minutes.
"""

from benchmarks.false_alarms import count_latencies, outcome, parse_seeds, report


def row(server: str, kind: str, seed: int, verdict: str, latencies: int = 0) -> dict[str, object]:
    return {
        "server": server,
        "source": "corpus",
        "kind": kind,
        "seed": seed,
        "verdict": verdict,
        "seconds": 12.0,
        "latencies": latencies,
        "reason": "c1: got 3 of 5 bytes back; the connection is still open",
    }


def test_seeds_are_given_as_ranges_or_lists():
    assert parse_seeds("1-3") == [1, 2, 3]
    assert parse_seeds("1,4") == [1, 4]
    assert parse_seeds("2") == [2]


def test_the_latencies_a_report_leaves_out_are_counted_too():
    listed = [f"c{n}: the connect took 1.02 s (deadline 1.00 s)" for n in range(20)]
    assert count_latencies([*listed, "... and 100 more"]) == 120
    assert count_latencies(listed[:3]) == 3
    assert count_latencies([]) == 0


def test_a_divergence_is_a_false_alarm_only_from_a_correct_server():
    assert outcome(row("socat", "correct", 1, "fail")) == "FALSE ALARM"
    assert outcome(row("node", "broken", 1, "fail")) == "finding"
    assert outcome(row("twisted", "documented", 1, "fail")) == "documented"
    assert outcome(row("socat", "correct", 1, "pass")) == "ok"
    assert outcome(row("node", "broken", 1, "pass")) == "missed"
    assert outcome(row("socat", "correct", 1, "error")) == "error"


def test_the_report_counts_false_alarms_per_run_of_a_correct_server():
    rows = [
        row("socat", "correct", 1, "pass", latencies=4),
        row("socat", "correct", 2, "fail"),
        row("busybox nc", "correct", 1, "pass"),
        row("busybox nc", "correct", 2, "pass"),
        row("node", "broken", 1, "fail"),
    ]
    for each in rows:
        each["outcome"] = outcome(each)
    text = report(
        {
            "seeds": [1, 2],
            "spinners": 2,
            "rows": rows,
            "not_run": [{"server": "xinetd echo", "why": "xinetd is not installed"}],
        }
    )
    assert "False alarms per run: 0.25 (1 in 4 runs of 2 correct servers)" in text
    assert "latencies reported instead: 4." in text
    assert "Seed 2: 1 false alarms in 2 correct servers (socat)." in text
    assert "Real findings (known broken servers): 1 runs, node." in text
    assert "Not run: xinetd echo: xinetd is not installed." in text
