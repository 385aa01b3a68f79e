"""Shrink a failing sequence of steps by replaying candidates on a fresh server.

Hypothesis's own shrinker works on its choice sequence. For a stateful machine
whose preconditions switch rules on and off (no more than N connections, a
burst needs two) deleting one early step reinterprets every later choice, and
it stalls in local minima such as "six connects, then the bug". Steps, on the
other hand, are plain data with an obvious dependency structure: a connection's
steps need its ``connect``. So echofuzz shrinks steps itself:

1. Delete blocks of steps, halving the block size (ddmin), then drop the
   steps left naming a connection that is no longer opened.
2. Delete a connection: every step naming it (or drop it from a burst).
3. Delete single steps, last to first (but not the final end-of-case check).
4. Simplify payloads: halve generated sizes, shorten literal bytes.

A candidate is kept only if it fails *the same way* -- the same
signature (the failure's text with numbers and connection names blanked, and
for a dead server, the exception it died of) -- so that shrinking one bug never
wanders off to another. Every candidate is replayed from a fresh server start
(when echofuzz owns the server), and the number of replays is bounded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from echofuzz.vocabulary import Payload, Step

#: Upper bound on replays spent shrinking one failure.
MAX_REPLAYS = 120
#: Upper bound on the time spent shrinking (the final confirmation excepted).
MAX_SECONDS = 60.0
#: Replays the final reproduction must fail in a row to be reported.
CONFIRMATIONS = 3
#: Words of a cause of death that name an error (anything else is just the last thing said).
ERRORISH = re.compile(
    r"error|exception|panic|fatal|assert|abort|fault|killed|terminat|errno|\bE[A-Z]{3,}\b|out of",
    re.IGNORECASE,
)
#: Characters of a cause of death that tell one crash from another.
CAUSE_CHARACTERS = 60
#: Descents at most, each from the last confirmed candidate (at first, the original steps).
SEARCHES = 3


def signature(reason: str) -> str:
    """What makes two failures the same bug, independent of sizes and names.

    A dead server's is its cause of death with the numbers blanked but an
    errno's, cut short: what a runtime printed varies in addresses and sizes,
    not in the kind of error.

    >>> signature("c3: got 10 of 20 bytes back; the connection is still open")
    'c: got # of # bytes back; the connection is still open'
    >>> signature("the server exited with status 1: ConnectionResetError: [Errno 104] reset")
    'the server died: ConnectionResetError: [Errno 104] reset'
    >>> signature("the server exited with status 1: Error: read ECONNRESET (code ECONNRESET)")
    'the server died: Error: read ECONNRESET (code ECONNRESET)'
    """
    died = re.match(
        r"the server (?:exited with status -?\d+|was killed by [\w ()]+?)(?:: (.*))?$", reason
    )
    if died:
        cause = died.group(1) or ""
        if not ERRORISH.search(cause):
            cause = ""  # its last line of output says nothing of why: the death alone counts
        errno = re.search(r"\[Errno (\d+)\]", cause)
        cause = re.sub(r"0x[0-9a-f]+|\d+", "#", cause)
        if errno:
            cause = cause.replace("[Errno #]", f"[Errno {errno.group(1)}]", 1)
        return f"the server died: {cause[:CAUSE_CHARACTERS]}".rstrip()
    # c3, c3.2 in a joined history, and the end-of-case probe: any connection alike
    text = re.sub(r"\b(?:c\d+(?:\.\d+)?|probe)\b", "c", reason)
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


def consistent(steps: list[Step]) -> list[Step]:
    """Drop the steps a deletion left dangling: those naming a connection not open then.

    The list always ends with the end-of-case check.
    """
    open_now: set[str] = set()
    out: list[Step] = []
    for step in steps:
        shape = step.lifecycle
        if shape.opens:
            if not shape.closes:
                open_now.add(step.conn)
        elif shape.closes_all:
            open_now.clear()
        elif shape.on_sends:
            sends = tuple((c, p) for c, p in step.sends if c in open_now)
            if len(sends) >= 2:
                step = replace(step, sends=sends)
            elif sends:
                out.append(Step("send", conn=sends[0][0], payload=sends[0][1]))
                step = Step("expect", conn=sends[0][0])
            else:
                continue
        elif step.conn not in open_now:
            continue
        elif shape.closes:
            open_now.discard(step.conn)
        out.append(step)
    if not out or out[-1].op != "finish":
        out.append(Step("finish"))
    return out


def smaller_payloads(payload: Payload) -> list[Payload]:
    """Simpler payloads to try in place of ``payload``, simplest first."""
    if payload.literal_bytes is None:
        if payload.size <= 1:
            return []
        return [replace(payload, size=payload.size // 2)]  # same seed and salt: a prefix
    data = payload.literal_bytes
    if len(data) <= 1:
        return []
    return [Payload.literal(data[: len(data) // 2]), Payload.literal(data[len(data) // 2 :])]


def smaller_counts(count: int) -> list[int]:
    """Smaller crowds to try, smallest first, closing in on ``count`` by halves.

    A descriptor limit is a threshold: a crowd fails from some size on, so the
    candidates step towards ``count`` (half of it, three quarters, ...), and the
    shrunk reproduction says how many connections it took.

    >>> smaller_counts(100)
    [50, 75, 88, 94, 97, 99]
    >>> smaller_counts(2)
    []
    """
    out: list[int] = []
    gap = count // 2
    while gap >= 1 and count - gap >= 2:
        if count - gap not in out:
            out.append(count - gap)
        gap //= 2
    return out


def shrink(
    steps: list[Step],
    reason: str,
    replay: Callable[[list[Step]], str | None],
    max_seconds: float = MAX_SECONDS,
    confirm: Sequence[Callable[[list[Step]], str | None]] = (),
) -> tuple[list[Step], str] | None:
    """The smallest variant of ``steps`` found that fails like ``reason``, and its reason.

    Each candidate is replayed once while shrinking; only the result is replayed
    ``CONFIRMATIONS`` times, the i-th time with ``confirm[i]`` if given (the
    caller may shrink with short deadlines, which make stalls cheap, and confirm
    with the real ones, once with the patience that tells a stall from a slow
    server). If it does not fail every time (a timing accident was accepted on
    the way), the shrinker walks back through the candidates it accepted until
    one does. None when nothing, not even ``steps`` itself, fails every time.

    Candidates that fail confirmation are counted as passing from then on, and
    the search descends again from the candidate the walk back stopped at (the
    original steps, if it went all the way back), so that it takes another way
    down: when one connection's bug shows only on some replays, a descent that
    followed it stops short, or ends where the original began, while another
    connection's bug would have shrunk further. That is up to ``SEARCHES``
    descents, the last confirmed candidate being the answer.
    """
    wanted = signature(reason)
    budget = [MAX_REPLAYS]

    def confirmer(index: int) -> Callable[[list[Step]], str | None]:
        return confirm[index] if index < len(confirm) else (confirm[-1] if confirm else replay)

    give_up = time.monotonic() + max_seconds
    tried: dict[str, str | None] = {}

    def key(candidate: list[Step]) -> str:
        return json.dumps([step.to_json() for step in candidate])

    def fails_like_it(
        candidate: list[Step], replay: Callable[..., str | None] = replay
    ) -> str | None:
        got = replay(candidate)
        budget[0] -= 1
        return got if got is not None and signature(got) == wanted else None

    def still_fails(candidate: list[Step]) -> str | None:
        known = key(candidate)
        if known not in tried:
            if budget[0] <= 0 or len(candidate) <= 1 or time.monotonic() > give_up:
                return None
            tried[known] = fails_like_it(candidate)
        return tried[known]

    # A crash shows only when something comes after it: end every candidate with
    # the end-of-case check, whose probe makes the server's death observable.
    start = list(steps)
    if not start or start[-1].op != "finish":
        start.append(Step("finish"))
    found: tuple[list[Step], str] | None = None
    for _ in range(SEARCHES):
        accepted = _search(start, still_fails, budget)
        descended = bool(accepted)
        if not descended and found is None:
            accepted = [(start, reason)]  # nothing smaller failed: is the original real?
        for candidate, got in reversed(accepted):
            confirmed: list[str | None] = []
            for index in range(CONFIRMATIONS):
                confirmed.append(fails_like_it(candidate, confirmer(index)))
                if confirmed[-1] is None:
                    break
            if len(confirmed) == CONFIRMATIONS and all(confirmed):
                found = candidate, confirmed[-1] or got
                start = candidate  # the next descent goes on from here
                break
            tried[key(candidate)] = None  # not reliably: the next descent goes round it
        if not descended or budget[0] <= 0 or time.monotonic() > give_up:
            break
    return found


def _search(
    start: list[Step],
    still_fails: Callable[[list[Step]], str | None],
    budget: list[int],
) -> list[tuple[list[Step], str]]:
    """One descent from ``start``: every candidate accepted on the way, smallest last."""
    best = start
    accepted: list[tuple[list[Step], str]] = []

    def accept(candidate: list[Step], got: str) -> None:
        nonlocal best
        best = candidate
        accepted.append((candidate, got))

    # Crowds first: each replay of one costs a thousand connections, and most
    # bugs have nothing to do with them.
    for index in reversed(range(len(best))):
        if best[index].op == "crowd" and budget[0] > 0:
            candidate = best[:index] + best[index + 1 :]
            got = still_fails(candidate)
            if got is not None:
                accept(candidate, got)
    # Coarse next: delete ever smaller blocks of steps (ddmin), repairing what
    # the deletion leaves dangling; long histories shrink in a few replays.
    size = len(best) // 2
    while size >= 2 and budget[0] > 0:
        at = 0
        while at < len(best) - 1:
            candidate = consistent(best[:at] + best[at + size :])
            got = still_fails(candidate) if candidate != best else None
            if got is not None:
                accept(candidate, got)
            else:
                at += size
        size //= 2
    progress = True
    while progress and budget[0] > 0:
        progress = False
        names = [s.conn for s in best if s.lifecycle.opens]
        for name in names:
            candidate = without_connection(best, name)
            got = still_fails(candidate)
            if got is not None:
                accept(candidate, got)
                progress = True
        for index in reversed(range(len(best))):
            shape = best[index].lifecycle
            if index >= len(best) - 1 or (shape.opens and not shape.closes):
                continue
            candidate = best[:index] + best[index + 1 :]
            got = still_fails(candidate)
            if got is not None:
                accept(candidate, got)
                progress = True
        for index, step in enumerate(best):
            for fewer in smaller_counts(step.count):
                candidate = [*best[:index], replace(step, count=fewer), *best[index + 1 :]]
                got = still_fails(candidate)
                if got is not None:
                    accept(candidate, got)
                    progress = True
                    break
            if step.payload is None:
                continue
            for smaller in smaller_payloads(step.payload):
                candidate = [*best[:index], replace(step, payload=smaller), *best[index + 1 :]]
                got = still_fails(candidate)
                if got is not None:
                    accept(candidate, got)
                    progress = True
                    break
    return accepted


def renumber(steps: list[Step], reason: str) -> tuple[list[Step], str]:
    """Name connections c1, c2, ... in order of appearance, as a person would.

    The reason is rewritten to match, so that it still names the right connection.
    """
    names: dict[str, str] = {}

    def name(old: str) -> str:
        if old and old != "probe":
            names.setdefault(old, f"c{len(names) + 1}")
        return names.get(old, old)

    renamed = [
        replace(step, conn=name(step.conn), sends=tuple((name(c), p) for c, p in step.sends))
        for step in steps
    ]
    text = re.sub(r"\bc\d+(?:\.\d+)?\b", lambda m: names.get(m.group(0), m.group(0)), reason)
    return renamed, text


def tag_connections(cases: list[list[Step]]) -> list[Step]:
    """Test cases joined into one sequence, each case's connections made distinct.

    Test cases reuse the names c1, c2, ...; joined into one history they must
    not, or deleting "c1" would delete it from every case at once.
    """
    joined = []
    for number, case in enumerate(cases, 1):

        def tag(name: str, number: int = number) -> str:
            return f"{name}.{number}" if name else name

        joined += [
            replace(step, conn=tag(step.conn), sends=tuple((tag(c), p) for c, p in step.sends))
            for step in case
        ]
    return joined
