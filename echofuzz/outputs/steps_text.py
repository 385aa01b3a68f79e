"""Steps as numbered lines, with repeated runs folded into one: a history that reads like its cause.

A bug that needs history (a descriptor leak, a counter, a rate limit) is
reproduced by the same few steps done hundreds of times. Printed one per line,
the 895 steps of a leak hide the one fact that matters, that a connection was
opened and half-closed 297 times; folded, they say it:

>>> from echofuzz.vocabulary import Payload
>>> cycle = lambda n: [Step("connect", conn=f"c{n}"), Step("half_close", conn=f"c{n}")]
>>> steps = [s for n in range(1, 199) for s in cycle(n)]
>>> last = Step("send", conn="c199", payload=Payload.literal(b"x"))
>>> steps += [Step("connect", conn="c199"), last]
>>> for line in compress(steps):
...     print(line.label, line.text)
1-396 repeat 198 x: connect c; half-close c, expect the rest, then EOF  (c: c1, c2, ..., c198)
397 c199 = connect()
398 send(c199, b'x')

Two repetitions match when they have the same operations, in the same shape
(payload kinds and sizes, receive buffers, in-flight resets), and their
connections correspond one to one in order of appearance. Names that are the
same in every repetition (a connection opened before the run) are kept; names
that change become placeholders (``c``, ``d``, ...), and the line says which
names they stood for. Payloads whose bytes differ between repetitions (another
seed, other literal bytes) are shown by size, with "varies".

Rules that keep the lines honest:

- A run is folded only from ``MIN_REPEATS`` repetitions on; shorter ones read
  as well step by step.
- The last step is never folded: it is where the divergence showed.
- Among the runs starting at a step, the one covering the most steps wins (the
  shortest block on a tie), so ``A A A A`` is ``repeat 4 x: A``, not
  ``repeat 2 x: A; A``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TextIO

from echofuzz.vocabulary import Payload, Step

#: A run of fewer repetitions than this stays one line per step.
MIN_REPEATS = 3
#: The longest block looked for: a whole test case (``--steps-per-case`` 30, and its finish).
MAX_BLOCK = 40
#: Lines printed in full; longer listings are elided in the middle.
SHOWN_LINES = 120
#: Placeholders for connections whose name changes between repetitions.
PLACEHOLDERS = "cdefghjkmnpqrstuvwxyz"


@dataclass(frozen=True)
class Line:
    """One printed line: a single step, or a block of steps repeated ``repeats`` times."""

    #: The 1-based numbers of the first and last step it stands for.
    first: int
    last: int
    text: str
    repeats: int = 1
    #: For a repeated block: each of its steps, described in full (placeholders as in ``text``).
    block: tuple[str, ...] = ()
    #: For a repeated block: the names its placeholders stood for, like ``c: c2, c3, ..., c298``.
    legend: str = ""

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def count(self) -> int:
        """How many steps the line stands for."""
        return self.last - self.first + 1


def _names(step: Step) -> tuple[str, ...]:
    return tuple(name for name in step.connections() if name)


def _payload_shape(payload: Payload) -> tuple[bool, int]:
    return (payload.literal_bytes is not None, payload.size)


def _shape(block: list[Step]) -> tuple[object, ...]:
    """What two repetitions must share: everything but connection names and payload bytes."""
    order: dict[str, int] = {}
    shape: list[object] = []
    for step in block:
        for name in _names(step):
            order.setdefault(name, len(order))
        shape.append(
            (
                step.op,
                order.get(step.conn, -1),
                None if step.payload is None else _payload_shape(step.payload),
                tuple((order[c], _payload_shape(p)) for c, p in step.sends),
                step.rcvbuf,
                step.in_flight,
            )
        )
    return tuple(shape)


def _atom(step: Step) -> tuple[object, ...]:
    """A step's shape without its connection names, to compare blocks before renaming."""
    return (
        step.op,
        None if step.payload is None else _payload_shape(step.payload),
        tuple(_payload_shape(p) for _, p in step.sends),
        step.rcvbuf,
        step.in_flight,
    )


def _repetitions(
    steps: list[Step], atoms: list[tuple[object, ...]], start: int, size: int, end: int
) -> int:
    """How many times ``steps[start:start+size]`` repeats back to back, from ``start``."""
    count, at = 1, start + size
    first: tuple[object, ...] | None = None
    while at + size <= end and atoms[at : at + size] == atoms[start : start + size]:
        # Shapes without names are compared first: they rule out most blocks at C speed.
        if first is None:
            first = _shape(steps[start : start + size])
        if _shape(steps[at : at + size]) != first:
            break
        count += 1
        at += size
    return count


def _best_run(
    steps: list[Step], atoms: list[tuple[object, ...]], start: int, end: int
) -> tuple[int, int]:
    """The block size and repetitions of the run from ``start`` that covers most steps."""
    best_size, best_count = 1, 1
    for size in range(1, min(MAX_BLOCK, (end - start) // MIN_REPEATS) + 1):
        count = _repetitions(steps, atoms, start, size, end)
        if count >= MIN_REPEATS and size * count > best_size * best_count:
            best_size, best_count = size, count
    return best_size, best_count


def _short(
    step: Step, name: dict[str, str], payload: dict[tuple[int, int], str], index: int
) -> str:
    """A step in a few words, for a repeated block (whose parts are separated by ``; ``)."""
    c = name.get(step.conn, step.conn)
    shown = payload.get((index, -1), "")
    if step.op == "connect":
        return f"connect {c}"
    if step.op == "slow_start":
        return f"connect {c} (SO_RCVBUF={step.rcvbuf}) and send {shown} without reading"
    if step.op == "connect_reset":
        return f"connect {c} and reset it at once"
    if step.op == "send":
        return f"send({c}, {shown})"
    if step.op == "burst":
        parts = ", ".join(
            f"{name.get(conn, conn)}: {payload.get((index, k), '')}"
            for k, (conn, _) in enumerate(step.sends)
        )
        return f"at once send {{{parts}}}, expect all echoes"
    if step.op == "reset" and step.in_flight:
        return f"reset {c} with its echo in flight"
    words = {
        "expect": "expect all echoes on {c}",
        "half_close": "half-close {c}, expect the rest, then EOF",
        "close": "close {c} after all its echoes",
        "reset": "reset {c} after all its echoes",
        "slow_drain": "start reading {c}, expect all echoes",
        "finish": "finish",
    }
    return words[step.op].format(c=c)


def _payload_text(payloads: list[Payload]) -> str:
    """One payload position across the repetitions: as it is, or by size when it varies."""
    first = payloads[0]
    if all(p == first for p in payloads):
        return first.describe()
    if first.literal_bytes is None:
        if all(p.seed == first.seed for p in payloads):  # the salt differs: the connection's
            return first.describe()
        return f"{first.size} generated bytes, seed varies"
    return f"{first.size} literal bytes, varies"


def _listing(values: list[str]) -> str:
    distinct = list(dict.fromkeys(values))
    if len(distinct) <= 3:
        return ", ".join(distinct)
    return f"{distinct[0]}, {distinct[1]}, ..., {distinct[-1]}"


def _folded(steps: list[Step], start: int, size: int, count: int) -> Line:
    reps = [steps[start + k * size : start + (k + 1) * size] for k in range(count)]
    # Connection k of the block, in order of appearance, in each repetition.
    per_rep = [list(dict.fromkeys(n for step in rep for n in _names(step))) for rep in reps]
    taken = {n for names in per_rep for n in names}
    spare = (p for p in [*PLACEHOLDERS, *(f"c#{i}" for i in range(1, 1000))] if p not in taken)
    name: dict[str, str] = {}
    stood_for: list[str] = []
    for k, own in enumerate(per_rep[0]):
        values = [names[k] for names in per_rep]
        if all(v == own for v in values):
            continue
        placeholder = next(spare)
        name[own] = placeholder
        stood_for.append(f"{placeholder}: {_listing(values)}")
    #: (step in the block, member of its burst or -1 for its own payload) -> how it reads.
    payload: dict[tuple[int, int], str] = {}
    for i, step in enumerate(reps[0]):
        if step.payload is not None:
            sent = [p for rep in reps if (p := rep[i].payload) is not None]
            payload[i, -1] = _payload_text(sent)
        for k in range(len(step.sends)):
            payload[i, k] = _payload_text([rep[i].sends[k][1] for rep in reps])
    parts = [_short(step, name, payload, i) for i, step in enumerate(reps[0])]
    legend = "; ".join(stood_for)
    text = f"repeat {count} x: {'; '.join(parts)}" + (f"  ({legend})" if legend else "")
    block = tuple(_renamed(step, name).describe() for step in reps[0])
    return Line(start + 1, start + size * count, text, count, block, legend)


def _renamed(step: Step, name: dict[str, str]) -> Step:
    return replace(
        step,
        conn=name.get(step.conn, step.conn),
        sends=tuple((name.get(c, c), p) for c, p in step.sends),
    )


def compress(steps: list[Step]) -> list[Line]:
    """The steps as lines: maximal runs of a repeated block folded, every other step its own."""
    lines: list[Line] = []
    atoms = [_atom(step) for step in steps]
    end = len(steps) - 1  # the last step stays visible
    at = 0
    while at < len(steps):
        size, count = _best_run(steps, atoms, at, end) if at < end else (1, 1)
        if count >= MIN_REPEATS:
            lines.append(_folded(steps, at, size, count))
            at += size * count
        else:
            lines.append(Line(at + 1, at + 1, steps[at].describe()))
            at += 1
    return lines


def elide(lines: list[Line], shown: int = SHOWN_LINES) -> tuple[list[Line], int, list[Line]]:
    """The first and last lines of a long listing, and how many steps lie between them."""
    if len(lines) <= shown:
        return lines, 0, []
    head, tail = lines[: shown // 2], lines[-shown // 2 :]
    skipped = sum(line.count for line in lines[len(head) : len(lines) - len(tail)])
    return head, skipped, tail


def write_lines(steps: list[Step], out: TextIO) -> None:
    """The printed form: ``  12. step``, right-aligned numbers, the middle of a long one elided."""
    lines = compress(steps)
    head, skipped, tail = elide(lines)
    width = max((len(line.label) for line in lines), default=1)
    for line in head:
        out.write(f"  {line.label:>{width}}. {line.text}\n")
    if skipped:
        out.write(f"  {'':>{width}}  ... {skipped} more steps (all are in the report and script)\n")
    for line in tail:
        out.write(f"  {line.label:>{width}}. {line.text}\n")
