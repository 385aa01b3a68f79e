"""Every knob of a run, and the one table that both front ends are built from.

Rules:

1. ``FuzzOptions`` is the only place a default is written. The command line,
   the pytest plugin, the report's ``options``, the rerun command and the
   README's option table all read it from there (a test holds the README to it).
2. ``OPTIONS`` lists what a user can say, once: its flag (the plugin spells it
   ``--echo-`` and the rest), its parser and its help. ``argparse`` gets every
   option with ``default=None``, so that "not given" stays visible and
   ``FuzzOptions`` fills it in.
3. Parsing is standard library only, so a usage error is answered before trio
   or Hypothesis is imported.

>>> parsed = parse_values({"max_examples": "20", "max_payload": "64K"})
>>> options_from(parsed).max_examples, options_from(parsed).max_payload
(20, 65536)
>>> command_words(options_from(parsed))
['--max-examples', '20', '--max-payload', '64K']
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from echofuzz.model import HalfClose
from echofuzz.vocabulary import OPS, PAYLOAD_LIMIT

MiB = 1 << 20
#: How long a server given as ``HOST:PORT`` may take to accept the first connection,
#: and a spawned one (``--spawn``), when ``--startup-timeout`` is not given.
ADDRESS_CONNECT_TIMEOUT = 3.0
SPAWN_STARTUP_TIMEOUT = 15.0
#: Connections an ordinary test case keeps open at once, unless the user declares otherwise.
DEFAULT_MAX_CONNECTIONS = 6


@dataclass
class FuzzOptions:
    """What a run is told. The defaults fuzz a correct local server in well under a minute.

    The engine reads the campaign's knobs; the front ends read the rest (where
    the outputs go). ``progress`` and ``ignore`` are set by programs, not users.
    """

    max_examples: int = 100
    seed: int | None = None
    deadline: float = 1.0
    max_payload: int = 4 * MiB
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    steps_per_case: int = 30
    ops: frozenset[str] = frozenset(OPS)
    #: What the server does on a client's half-close, by design: "echo" (the rest, then FIN)
    #: or "close" (it may close at once, with echo owed; what came back must be a prefix).
    half_close: HalfClose = "echo"
    #: The largest crowd (connections opened at once); 0: no crowds.
    max_crowd: int = 1100
    #: Distinct findings after which a run stops (1: stop at the first, as a plain fuzzer does).
    max_bugs: int = 10
    #: None: ``SPAWN_STARTUP_TIMEOUT`` with --spawn, ``ADDRESS_CONNECT_TIMEOUT`` for HOST:PORT.
    startup_timeout: float | None = None
    database: str = "none"
    shrink: bool = True
    #: Time budget for shrinking one failure (seconds).
    shrink_time: float = 60.0
    report: str | None = None
    html: str | None = None
    repro: str = "echofuzz-repro.py"
    progress: bool = False
    #: Failures whose text contains one of these are known bugs: skipped, not reported,
    #: so that the campaign can look for the next one.
    ignore: tuple[str, ...] = field(default=())

    def crowd_limit(self) -> int:
        """The largest crowd: ``max_crowd``, within a declared ``max_connections``.

        The default ``max_connections`` only keeps ordinary test cases small, so it is no
        declaration that the server cannot take more; any other value is one.
        """
        if self.max_connections == DEFAULT_MAX_CONNECTIONS:
            return self.max_crowd
        return min(self.max_crowd, self.max_connections)

    def connect_timeout(self, spawned: bool) -> float:
        if self.startup_timeout is not None:
            return self.startup_timeout
        return SPAWN_STARTUP_TIMEOUT if spawned else ADDRESS_CONNECT_TIMEOUT


DEFAULTS = FuzzOptions()


# -- parsers: each raises ArgumentTypeError, whose message argparse shows as it is ----------


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def seed_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


SIZE = re.compile(r"(\d+)\s*(k|kb|kib|m|mb|mib)?", re.IGNORECASE)


def byte_size(text: str) -> int:
    """``65536``, ``64K``, ``4M`` or ``4MiB`` (K and M are powers of two here)."""
    match = SIZE.fullmatch(text.strip())
    if match is None or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of bytes of at least 1 (like 65536, 64K or 4M), got {text!r}"
        )
    unit = (match[2] or "").lower()[:1]
    value = int(match[1]) * {"": 1, "k": 1024, "m": MiB}[unit]
    if value > PAYLOAD_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{text!r} is more than the largest payload echofuzz sends, "
            f"{format_size(PAYLOAD_LIMIT)}"
        )
    return value


def format_size(value: int) -> str:
    """The shortest spelling ``byte_size`` reads back as ``value``."""
    for unit, scale in (("M", MiB), ("K", 1024)):
        if value % scale == 0:
            return f"{value // scale}{unit}"
    return str(value)


def operations(text: str) -> frozenset[str]:
    """A comma list of step operations; ``connect`` must be among them."""
    chosen = {word.strip() for word in text.split(",") if word.strip()}
    unknown = sorted(chosen - set(OPS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(CHOOSABLE_OPS)}"
        )
    if "connect" not in chosen:
        raise argparse.ArgumentTypeError("the operations must include connect")
    return frozenset(chosen | {"finish"})


def half_close_choice(text: str) -> HalfClose:
    if text == "echo":
        return "echo"
    if text == "close":
        return "close"
    raise argparse.ArgumentTypeError(f"expected echo or close, got {text!r}")


def database_spec(text: str) -> str:
    """``none``, a directory, or a Redis URL; opened (and checked further) by the engine."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--database needs DIR, redis://HOST:PORT or none")
    return text


#: Operations a user chooses among (``finish`` ends every test case and is always on).
CHOOSABLE_OPS = tuple(op for op in OPS if op != "finish")


# -- the table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One thing a user can say. ``dest`` is the ``FuzzOptions`` field, when it is one."""

    dest: str
    flag: str
    help: str
    metavar: str | None = None
    parse: Callable[[str], object] | None = None  # None: a switch (store_true)
    #: Where it exists: "both", "cli" or "plugin".
    where: str = "both"
    #: The default as a user reads it, when it is not simply the field's value.
    default_text: str | None = None

    @property
    def plugin_flag(self) -> str:
        return "--echo-" + self.flag.removeprefix("--")

    @property
    def is_field(self) -> bool:
        return self.dest in FIELDS

    def shown_default(self) -> str:
        """The default for ``--help`` and the README; empty when there is none."""
        if self.default_text is not None:
            return self.default_text
        if not self.is_field:
            return ""
        value = getattr(DEFAULTS, self.dest)
        return spell(self.dest, value) if value is not None else ""


FIELDS = frozenset(f.name for f in dataclasses.fields(FuzzOptions))

OPTIONS: tuple[Option, ...] = (
    Option("address", "--target", "a server that is already running", "HOST:PORT", str),
    Option(
        "spawn",
        "--spawn",
        "start the server with this command line; {port} is replaced by a free port",
        "CMD",
        str,
    ),
    Option(
        "startup_timeout",
        "--startup-timeout",
        "how long the server may take to accept a first connection",
        "SECONDS",
        positive_seconds,
        default_text=f"{SPAWN_STARTUP_TIMEOUT:g} with --spawn, {ADDRESS_CONNECT_TIMEOUT:g} "
        "for HOST:PORT",
    ),
    Option("max_examples", "--max-examples", "test cases to generate", "N", positive_int),
    Option("seed", "--seed", "random seed", "N", seed_number, default_text="random"),
    Option(
        "deadline",
        "--deadline",
        "how long each wait for the server may take, plus transfer time for large payloads",
        "SECONDS",
        positive_seconds,
    ),
    Option(
        "max_payload",
        "--max-payload",
        f"largest payload of one send, like 65536, 64K or 4M (at most "
        f"{format_size(PAYLOAD_LIMIT)})",
        "BYTES",
        byte_size,
    ),
    Option(
        "max_connections",
        "--max-connections",
        "connections the server is declared to handle at once (ordinary steps keep at most this "
        "many open; crowds keep within it when it is given); 1 for a server that serves one "
        "client at a time",
        "N",
        positive_int,
    ),
    Option("steps_per_case", "--steps-per-case", "most steps in one test case", "N", positive_int),
    Option(
        "half_close",
        "--half-close",
        "what the server does on a client's half-close, by design: echo (the rest of the "
        "echo, then FIN) or close (it may close at once, dropping echo it owed)",
        "echo|close",
        half_close_choice,
    ),
    Option(
        "max_crowd",
        "--max-crowd",
        "the most connections a crowd step opens at once (within --max-connections, when that "
        "is given)",
        "N",
        seed_number,
    ),
    Option(
        "max_bugs",
        "--max-bugs",
        "stop after this many distinct findings, each shrunk on its own",
        "N",
        positive_int,
    ),
    Option(
        "ops",
        "--ops",
        f"comma list of the operations to use, out of {','.join(CHOOSABLE_OPS)}",
        "LIST",
        operations,
        default_text="all",
    ),
    Option(
        "database",
        "--database",
        "keep failures in a Hypothesis example database, shared between runs and machines, "
        "and replay them first",
        "DIR|redis://HOST:PORT|none",
        database_spec,
    ),
    Option("no_shrink", "--no-shrink", "report the first failure as found, unshrunk"),
    Option(
        "shrink_time",
        "--shrink-time",
        "time budget for shrinking a failure",
        "SECONDS",
        positive_seconds,
    ),
    Option("report", "--report", "write a JSON report here", "PATH", str),
    Option(
        "html",
        "--html",
        "write the conformance report here: one self-contained HTML page",
        "PATH",
        str,
    ),
    Option("repro", "--repro", "where a failure's reproduction script goes", "PATH", str),
    Option(
        "replay",
        "--replay",
        "instead of fuzzing, replay a report's reproduction (or a JSON list of steps) against "
        "the target: exit 1 if it diverges, 0 if not",
        "PATH",
        str,
        where="cli",
    ),
    Option(
        "shards",
        "--shards",
        "fuzzing items to add",
        "N",
        positive_int,
        where="plugin",
        default_text="one per xdist worker, else 1",
    ),
)


def spell(dest: str, value: object) -> str:
    """A value as a user writes it on the command line."""
    if dest == "ops":
        assert isinstance(value, frozenset)
        return ",".join(op for op in CHOOSABLE_OPS if op in value)
    if dest == "max_payload":
        assert isinstance(value, int)
        return format_size(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def help_text(option: Option) -> str:
    shown = option.shown_default()
    return f"{option.help} (default {shown})" if shown else option.help


def parse_values(raw: Mapping[str, str]) -> dict[str, object]:
    """Parse text values by the table (for callers without argparse, and doctests)."""
    by_dest = {option.dest: option for option in OPTIONS}
    parsed: dict[str, object] = {}
    for dest, text in raw.items():
        parse = by_dest[dest].parse
        parsed[dest] = parse(text) if parse is not None else bool(text)
    return parsed


def options_from(values: Mapping[str, object], **overrides: object) -> FuzzOptions:
    """``FuzzOptions`` from parsed values; absent and None values keep their defaults."""
    given: dict[str, object] = {k: v for k, v in values.items() if k in FIELDS and v is not None}
    if values.get("no_shrink"):
        given["shrink"] = False
    given.update(overrides)
    return dataclasses.replace(DEFAULTS, **given)  # type: ignore[arg-type]


def command_words(options: FuzzOptions) -> list[str]:
    """The command-line words that give ``options`` (the target and outputs aside).

    Only what differs from the defaults is spelled, so a rerun command stays short.
    """
    words: list[str] = []
    for option in OPTIONS:
        if option.where == "plugin" or option.dest in ("report", "html", "repro", "seed"):
            continue
        if option.dest == "no_shrink":
            if not options.shrink:
                words.append(option.flag)
            continue
        if not option.is_field:
            continue
        value = getattr(options, option.dest)
        if value is not None and value != getattr(DEFAULTS, option.dest):
            words += [option.flag, spell(option.dest, value)]
    return words


def declared_behaviours(options: FuzzOptions) -> dict[str, str]:
    """What the user told echofuzz the server does by design (the model allows it then)."""
    declared = {}
    if options.max_connections != DEFAULTS.max_connections:
        declared["max connections"] = str(options.max_connections)
    if options.ops != DEFAULTS.ops:
        declared["operations"] = spell("ops", options.ops)
    if options.half_close != DEFAULTS.half_close:
        declared["half-close"] = options.half_close
    return declared


def report_options(options: FuzzOptions) -> dict[str, object]:
    """The options a report records, so that a replay can use the same deadline."""
    return {
        "max_examples": options.max_examples,
        "deadline": options.deadline,
        "max_payload": options.max_payload,
        "max_connections": options.max_connections,
        "steps_per_case": options.steps_per_case,
        "ops": [op for op in CHOOSABLE_OPS if op in options.ops],
        "shrink": options.shrink,
        "half_close": options.half_close,
    }
