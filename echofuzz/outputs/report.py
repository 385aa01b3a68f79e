"""The JSON report: the one module that writes it and reads it back.

A report is what a run leaves for people and programs: the verdict, the
figures, the reason, the reproduction's steps and the options the run used.
Read back (``--replay report.json``), it gives the steps and the deadline to
replay them with. A bare JSON list of steps is accepted too, for hand-written
reproductions. Files from elsewhere are checked before anything starts, since a
reproduction that names a connection it never opened would otherwise fail deep
inside the trio loop, after a server had been spawned for nothing.

>>> from echofuzz.vocabulary import Payload
>>> steps = [Step("connect", conn="c1"), Step("send", conn="c1", payload=Payload.literal(b"x"))]
>>> parse_reproduction([s.to_json() for s in steps], "inline").steps == steps
True
>>> parse_reproduction([steps[1].to_json()], "inline")
Traceback (most recent call last):
    ...
echofuzz.outputs.report.ReproductionError: inline: step 1, send(c1, b'x'): c1 is not an open...
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from echofuzz.options import FuzzOptions, report_options
from echofuzz.result import Finding, FuzzResult
from echofuzz.vocabulary import Step, steps_from_json, validate_sequence


class ReproductionError(Exception):
    """A reproduction file cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Reproduction:
    """Steps read from a file, with the deadline of the campaign that found them, if known."""

    steps: list[Step]
    deadline: float | None = None
    reason: str | None = None


def finding_json(finding: Finding) -> dict[str, object]:
    return {
        "reason": finding.reason,
        "claim": finding.claim,
        "reproduction": [s.to_json() for s in finding.reproduction],
        "reproduced": finding.reproduced,
        "needs_history": finding.needs_history,
        "first_seen_s": round(finding.first_seen_s, 3),
        "first_example": finding.first_example,
        "hits": finding.hits,
        "signature": finding.signature,
        "server_did": finding.server_did,
        "oracle_did": finding.oracle_did,
        "notes": finding.notes,
    }


def result_json(result: FuzzResult) -> dict[str, object]:
    """The result's part of the report (the pytest plugin attaches it to its test item)."""
    return {
        "verdict": result.verdict,
        "target": result.target,
        "seed": result.seed,
        "examples": result.examples,
        "steps": result.steps,
        "elapsed_s": round(result.elapsed_s, 3),
        "first_failure_s": (
            None if result.first_failure_s is None else round(result.first_failure_s, 3)
        ),
        "first_failure_example": result.first_failure_example,
        "reason": result.reason,
        "reproduction": (
            None if result.reproduction is None else [s.to_json() for s in result.reproduction]
        ),
        "history_dependent": result.history_dependent,
        "lost": result.lost,
        "reproduced": result.reproduced,
        "restarts": result.restarts,
        "notes": result.notes,
        "bugs": [finding_json(f) for f in result.bugs],
        "unconfirmed": [finding_json(f) for f in result.unconfirmed],
        "latencies": result.latencies,
        "latency_count": result.latency_count,
    }


def report_text(
    result: FuzzResult, options: FuzzOptions, repro: Path | None, rerun: str | None
) -> str:
    """The whole report: the result, the options, where the script went, the rerun command."""
    out = result_json(result)
    out["options"] = report_options(options)
    out["repro_script"] = None if repro is None else str(repro)
    out["rerun"] = rerun
    return json.dumps(out, indent=2) + "\n"


def error_report_text(target: str, reason: str) -> str:
    """A run that could not start still leaves a report, so that CI can show why."""
    return json.dumps({"verdict": "error", "target": target, "reason": reason}, indent=2) + "\n"


def parse_reproduction(value: object, origin: str) -> Reproduction:
    """A report (a JSON object with ``reproduction``) or a bare list of steps."""
    deadline: float | None = None
    reason: str | None = None
    if isinstance(value, dict):
        if "reproduction" not in value:
            raise ReproductionError(f"{origin} is neither an echofuzz report nor a list of steps")
        if value["reproduction"] is None:
            verdict = value.get("verdict", "unknown")
            raise ReproductionError(
                f"{origin} is a report without a reproduction (verdict {verdict!r})"
            )
        options = value.get("options")
        if isinstance(options, dict) and "deadline" in options:
            given = options["deadline"]
            if (
                isinstance(given, bool)
                or not isinstance(given, (int, float))
                or not (math.isfinite(given) and given > 0)
            ):
                raise ReproductionError(
                    f"{origin}: its deadline is a positive number of seconds, not {given!r}"
                )
            deadline = float(given)
        if isinstance(value.get("reason"), str):
            reason = value["reason"]
        value = value["reproduction"]
    if not isinstance(value, list):
        raise ReproductionError(f"{origin}: expected a list of steps, found {type(value).__name__}")
    if not value:
        raise ReproductionError(f"{origin} has no steps")
    steps = []
    for number, item in enumerate(value, 1):
        try:
            steps.extend(steps_from_json([item]))
        except (ValueError, TypeError, KeyError) as exc:
            raise ReproductionError(f"{origin}: step {number}: {one_line(exc)}") from None
    try:
        validate_sequence(steps)
    except ValueError as exc:
        raise ReproductionError(f"{origin}: {exc}") from None
    return Reproduction(steps, deadline, reason)


def load_reproduction(path: Path) -> Reproduction:
    """Read ``path`` (a report or a list of steps); ReproductionError with one line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        raise ReproductionError(f"cannot read {str(path)!r}: {reason}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReproductionError(f"{str(path)!r} is not JSON: {exc}") from None
    return parse_reproduction(value, repr(str(path)))


def one_line(exc: BaseException) -> str:
    """An exception as a single line, whatever its message looks like."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
