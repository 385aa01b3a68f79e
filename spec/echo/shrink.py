"""Shrink a failing sequence of steps by replaying candidates on a fresh server.

Hypothesis's own shrinker works on its choice sequence. For a stateful machine
whose preconditions switch rules on and off (no more than N connections, a
burst needs two) deleting one early step reinterprets every later choice, and
it stalls in local minima such as "six connects, then the bug". Steps, on the
other hand, are plain data with an obvious dependency structure: a connection's
steps need its ``connect``. So echofuzz shrinks steps itself:

1. Delete a connection: every step naming it (or drop it from a burst).
2. Delete single steps, last to first (but not the final end-of-case check).
3. Simplify payloads: halve generated sizes, shorten literal bytes.

A candidate is kept only if it fails twice in a row *the same way* -- the same
signature (the failure's text with numbers and connection names blanked, and
for a dead server, the exception it died of) -- so that shrinking one bug never
wanders off to another. Every candidate is replayed from a fresh server start
(when echofuzz owns the server), and the number of replays is bounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from spec.echo.steps import Payload, Step

#: Upper bound on replays spent shrinking one failure.
MAX_REPLAYS = 150


def signature(reason: str) -> str:
    """What makes two failures the same bug, independent of sizes and names.

    >>> signature("c3: got 10 of 20 bytes back; the connection is still open")
    'c: got # of # bytes back; the connection is still open'
    >>> signature("the server exited with status 1: ConnectionResetError: [Errno 104] reset")
    'the server exited with status #: ConnectionResetError'
    """
    died = re.match(r"(the server exited with status \d+: [\w.]+)", reason)
    text = died.group(1) if died else reason
    text = re.sub(r"\bc\d+\b", "c", text)
    text = re.sub(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"", "b'...'", text)
    return re.sub(r"\d+(\.\d+)?", "#", text)


def without_connection(steps: list[Step], name: str) -> list[Step]:
    """The steps with connection ``name`` removed from them entirely."""
    out = []
    for step in steps:
        if step.sends:
            sends = tuple((c, p) for c, p in step.sends if c != name)
            if len(sends) >= 2:
                out.append(replace(step, sends=sends))
            elif sends:
                out.append(Step("send", conn=sends[0][0], payload=sends[0][1]))
                out.append(Step("expect", conn=sends[0][0]))
        elif step.conn != name:
            out.append(step)
    return out


def smaller_payloads(payload: Payload) -> list[Payload]:
    """Simpler payloads to try in place of ``payload``, simplest first."""
    if payload.literal_bytes is None:
        if payload.size <= 1:
            return []
        return [Payload.generated(payload.size // 2, payload.seed)]
    data = payload.literal_bytes
    if len(data) <= 1:
        return []
    return [Payload.literal(data[: len(data) // 2]), Payload.literal(data[len(data) // 2 :])]


def shrink(
    steps: list[Step], reason: str, replay: Callable[[list[Step]], str | None]
) -> tuple[list[Step], str]:
    """The smallest variant of ``steps`` found that fails like ``reason``, and its reason."""
    wanted = signature(reason)
    budget = [MAX_REPLAYS]
    tried: dict[str, str | None] = {}

    def still_fails(candidate: list[Step]) -> str | None:
        key = json.dumps([step.to_json() for step in candidate])
        if key not in tried:
            if budget[0] <= 0 or len(candidate) <= 1:
                return None
            budget[0] -= 1
            got = replay(candidate)
            if got is not None and signature(got) == wanted:
                # Confirm: a timing accident must not become the reproduction.
                budget[0] -= 1
                again = replay(candidate)
                got = again if again is not None and signature(again) == wanted else None
            else:
                got = None
            tried[key] = got
        return tried[key]

    # A crash shows only when something comes after it: end every candidate with
    # the end-of-case check, whose probe makes the server's death observable.
    best, best_reason = list(steps), reason
    if not best or best[-1].op != "finish":
        best.append(Step("finish"))
    progress = True
    while progress and budget[0] > 0:
        progress = False
        names = [s.conn for s in best if s.op in ("connect", "slow_start", "connect_reset")]
        for name in names:
            candidate = without_connection(best, name)
            got = still_fails(candidate)
            if got is not None:
                best, best_reason, progress = candidate, got, True
        for index in reversed(range(len(best))):
            if index >= len(best) - 1 or best[index].op in ("connect", "slow_start"):
                continue
            candidate = best[:index] + best[index + 1 :]
            got = still_fails(candidate)
            if got is not None:
                best, best_reason, progress = candidate, got, True
        for index, step in enumerate(best):
            if step.payload is None:
                continue
            for smaller in smaller_payloads(step.payload):
                candidate = [*best[:index], replace(step, payload=smaller), *best[index + 1 :]]
                got = still_fails(candidate)
                if got is not None:
                    best, best_reason, progress = candidate, got, True
                    break
    return best, best_reason


def renumber(steps: list[Step]) -> list[Step]:
    """Name connections c1, c2, ... in order of appearance, as a person would."""
    names: dict[str, str] = {}

    def name(old: str) -> str:
        if old and old != "probe":
            names.setdefault(old, f"c{len(names) + 1}")
        return names.get(old, old)

    return [
        replace(step, conn=name(step.conn), sends=tuple((name(c), p) for c, p in step.sends))
        for step in steps
    ]
