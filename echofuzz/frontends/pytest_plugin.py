"""pytest plugin for echofuzz: fuzz an echo server as part of a test run, or test with our parts.

It is registered through the ``pytest11`` entry point, so it is active wherever
this package is installed -- including this repository's own test runs. So it
is inert unless asked: without ``--echo-target`` or ``--echo-spawn`` it adds no
test, prints nothing and warns about nothing; its fixtures merely exist.

Fuzzing as a test
-----------------
::

    pytest --echo-spawn "python my_server.py --port {port}" -k echofuzz
    pytest --echo-target 127.0.0.1:7000 --echo-max-examples 200 --echo-seed 7

adds one test item, ``echofuzz``, that runs the same campaign as the
``echofuzz`` command and fails with the minimal sequence (and writes the same
standalone reproduction script) when the server diverges from the oracle.
``-k echofuzz`` leaves the project's other tests out. Options mirror the
command line: ``--echo-max-examples``, ``--echo-seed``, ``--echo-deadline``,
``--echo-max-payload``, ``--echo-max-connections``, ``--echo-ops``,
``--echo-startup-timeout``, ``--echo-database``, ``--echo-report``,
``--echo-repro`` and ``--echo-shards``.

In parallel, with pytest-xdist::

    pytest -n 4 --echo-spawn CMD --echo-database .echofuzz-db -k echofuzz

Under xdist the plugin adds one item per worker (``echofuzz[0]`` ...
``echofuzz[3]``; ``--echo-shards N`` sets the number by hand), and shard ``i``
fuzzes with seed ``S + i``, where ``S`` is ``--echo-seed`` or, when that is not
given, a number derived from the xdist run id, so that all workers agree on it.
A shard fails on its own, naming its seed, and ``--echo-seed S+i`` reruns it
alone. With ``--echo-database`` (a directory, or ``redis://HOST:PORT`` to share
between machines) each shard saves what it finds and every later run, on any
machine, replays the saved failures first. A spawned server is started once per
shard, each on its own free port.

Fixtures, for writing your own tests with the oracle and the client driver
---------------------------------------------------------------------------
``echo_portal``
    A ``TrioThread``: one trio loop on a thread, for the test's duration.
``echo_oracle``
    ``(host, port)`` of a running oracle (a correct trio echo server) on that loop.
``echo_executor``
    A factory ``make(address, deadline=1.0) -> DifferentialExecutor`` that runs
    steps against the server at ``address`` and the oracle at once; each
    ``execute(step)`` returns the server's divergences (an empty list if none).
    Connections left open are aborted when the test ends.
``echo_campaign``
    A function ``run(target, **options) -> FuzzResult``: a whole campaign
    against ``target`` (a ``Target`` such as ``SpawnedTarget("... {port}")``,
    or a ``"HOST:PORT"`` string), with ``FuzzOptions`` fields as keywords.
    The target is stopped afterwards, whatever happens.

For example::

    from echofuzz.vocabulary import Payload, Step
    from echofuzz.engine.targets import SpawnedTarget

    def test_my_server_echoes_a_half_closed_connection(echo_executor, my_server):
        run = echo_executor(my_server.address)
        assert run.execute(Step("connect", conn="c1")) == []
        assert run.execute(Step("send", conn="c1", payload=Payload.literal(b"hi"))) == []
        assert run.execute(Step("half_close", conn="c1")) == []

    def test_my_server_survives_a_short_campaign(echo_campaign):
        result = echo_campaign(SpawnedTarget("python my_server.py {port}"), max_examples=20)
        assert result.verdict == "pass", result.reason
"""

from __future__ import annotations

import dataclasses
import secrets
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from echofuzz.engine.campaign import FuzzOptions, FuzzResult
from echofuzz.engine.databases import DatabaseError, close_database, open_database
from echofuzz.engine.executor import DifferentialExecutor
from echofuzz.engine.oracle import EchoOracle
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.targets import (
    STARTUP_TIMEOUT,
    AddressTarget,
    SpawnedTarget,
    Target,
    TargetError,
    parse_address,
)
from echofuzz.frontends.cli import (
    ADDRESS_CONNECT_TIMEOUT,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_REPRO,
    byte_size,
    format_summary,
    operations,
    positive_int,
    positive_seconds,
    report_json,
    seed_number,
)
from echofuzz.frontends.interrupts import InterruptGuard, run_guarded
from echofuzz.outputs.reproduction import script_source, write_atomically, write_script
from echofuzz.vocabulary import OPS

#: Where the plugin keeps its checked settings between configure and collection.
SETTINGS_KEY = pytest.StashKey["EchoSettings"]()
SEED_SPACE = 1_000_000


@dataclass
class EchoSettings:
    """The ``--echo-*`` options, checked once in ``pytest_configure``."""

    address: str | None
    spawn: str | None
    startup_timeout: float | None
    options: FuzzOptions
    base_seed: int
    shards: int
    report: Path | None
    repro: Path
    extra_words: list[str] = field(default_factory=list)

    def target(self) -> Target:
        """A fresh target for one shard (a spawned server is started by its campaign)."""
        if self.spawn is not None:
            return SpawnedTarget(
                self.spawn, startup_timeout=self.startup_timeout or STARTUP_TIMEOUT
            )
        assert self.address is not None
        timeout = self.startup_timeout or ADDRESS_CONNECT_TIMEOUT
        return AddressTarget(parse_address(self.address), connect_timeout=timeout)

    def seed(self, shard: int) -> int:
        return self.base_seed + shard

    def per_shard(self, path: Path, shard: int) -> Path:
        """One file per shard when there are several, so that parallel shards do not collide."""
        return path if self.shards == 1 else path.with_name(f"{path.stem}-{shard}{path.suffix}")

    def command(self, shard: int) -> str:
        """The ``echofuzz`` command line that runs the same campaign as shard ``shard``."""
        words = ["echofuzz", "--seed", str(self.seed(shard))]
        words += ["--spawn", self.spawn] if self.spawn is not None else [str(self.address)]
        return shlex.join([*words, *self.extra_words])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("echofuzz", "echofuzz: differential fuzzing of a TCP echo server")
    group.addoption(
        "--echo-target", metavar="HOST:PORT", help="fuzz the echo server running at HOST:PORT"
    )
    group.addoption(
        "--echo-spawn",
        metavar="CMD",
        help="fuzz the echo server started by CMD ({port} is replaced by a free port)",
    )
    group.addoption(
        "--echo-max-examples",
        type=positive_int,
        default=DEFAULT_MAX_EXAMPLES,
        metavar="N",
        help=f"test cases per shard (default {DEFAULT_MAX_EXAMPLES})",
    )
    group.addoption(
        "--echo-seed",
        type=seed_number,
        metavar="N",
        help="seed of shard 0; shard i uses N+i (default: random, or from the xdist run id)",
    )
    group.addoption(
        "--echo-deadline",
        type=positive_seconds,
        default=DEFAULT_DEADLINE,
        metavar="SECONDS",
        help=f"how long each wait for the server may take (default {DEFAULT_DEADLINE:g})",
    )
    group.addoption(
        "--echo-max-payload",
        type=byte_size,
        default=DEFAULT_MAX_PAYLOAD,
        metavar="BYTES",
        help="largest payload of one send (default 4M)",
    )
    group.addoption(
        "--echo-max-connections",
        type=positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"connections open at once (default {DEFAULT_MAX_CONNECTIONS})",
    )
    group.addoption(
        "--echo-ops", type=operations, metavar="LIST", help="comma list of operations to use"
    )
    group.addoption(
        "--echo-startup-timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="how long the server may take to accept its first connection",
    )
    group.addoption(
        "--echo-database",
        metavar="DIR|redis://HOST:PORT|none",
        help="Hypothesis example database shared by shards, runs and machines (default none)",
    )
    group.addoption(
        "--echo-shards",
        type=positive_int,
        metavar="N",
        help="fuzzing items to add (default: one per xdist worker, else 1)",
    )
    group.addoption("--echo-report", metavar="PATH", help="write the JSON report here")
    group.addoption(
        "--echo-repro",
        metavar="PATH",
        help=f"where a failing shard writes its reproduction script (default ./{DEFAULT_REPRO})",
    )


def _worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """xdist's per-worker data, present only inside an xdist worker."""
    value = getattr(config, "workerinput", None)
    return value if isinstance(value, dict) else None


def _base_seed(config: pytest.Config, given: int | None) -> int:
    """The given seed; else one every xdist worker derives alike from the run id."""
    if given is not None:
        return given
    worker = _worker_input(config)
    if worker is not None and isinstance(worker.get("testrunuid"), str):
        return int(worker["testrunuid"], 16) % SEED_SPACE
    return secrets.randbelow(SEED_SPACE)


def _shards(config: pytest.Config, given: int | None) -> int:
    if given is not None:
        return given
    worker = _worker_input(config)
    count = None if worker is None else worker.get("workercount")
    return max(1, count) if isinstance(count, int) else 1


def _extra_words(config: pytest.Config) -> list[str]:
    """The options that differ from the defaults, spelled for the ``echofuzz`` command."""
    words: list[str] = []
    pairs = [
        ("--max-examples", "echo_max_examples", DEFAULT_MAX_EXAMPLES),
        ("--deadline", "echo_deadline", DEFAULT_DEADLINE),
        ("--max-payload", "echo_max_payload", DEFAULT_MAX_PAYLOAD),
        ("--max-connections", "echo_max_connections", DEFAULT_MAX_CONNECTIONS),
        ("--startup-timeout", "echo_startup_timeout", None),
        ("--database", "echo_database", None),
    ]
    for flag, name, default in pairs:
        value = config.getoption(name)
        if value is not None and value != default:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    ops = config.getoption("echo_ops")
    if ops is not None:
        words += ["--ops", ",".join(op for op in OPS if op in ops and op != "finish")]
    return words


def _settings(config: pytest.Config) -> EchoSettings | None:
    """Check the options; None when the plugin is not asked to fuzz anything."""
    address, spawn = config.getoption("echo_target"), config.getoption("echo_spawn")
    if address is None and spawn is None:
        return None
    if address is not None and spawn is not None:
        raise pytest.UsageError("echofuzz: give --echo-target or --echo-spawn, not both")
    try:
        if address is not None:
            parse_address(address)
        else:
            SpawnedTarget(spawn)
        database = open_database(config.getoption("echo_database"))
    except (TargetError, DatabaseError) as exc:
        raise pytest.UsageError(f"echofuzz: {exc}") from None
    ops = config.getoption("echo_ops")
    options = FuzzOptions(
        max_examples=config.getoption("echo_max_examples"),
        deadline=config.getoption("echo_deadline"),
        max_payload=config.getoption("echo_max_payload"),
        max_connections=config.getoption("echo_max_connections"),
        ops=ops if ops is not None else frozenset(OPS),
        database=database,
    )
    report = config.getoption("echo_report")
    repro = config.getoption("echo_repro")
    invocation_dir = config.invocation_params.dir
    return EchoSettings(
        address=address,
        spawn=spawn,
        startup_timeout=config.getoption("echo_startup_timeout"),
        options=options,
        base_seed=_base_seed(config, config.getoption("echo_seed")),
        shards=_shards(config, config.getoption("echo_shards")),
        report=None if report is None else invocation_dir / report,
        repro=invocation_dir / (repro or DEFAULT_REPRO),
        extra_words=_extra_words(config),
    )


def pytest_configure(config: pytest.Config) -> None:
    settings = _settings(config)
    if settings is not None:
        config.stash[SETTINGS_KEY] = settings


def pytest_unconfigure(config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        close_database(settings.options.database)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return []
    target = settings.spawn if settings.spawn is not None else settings.address
    return [f"echofuzz: {target} ({settings.options.max_examples} test cases per shard)"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the fuzzing items, before ``-k`` and ``-m`` select, so that they can select them.

    The items are collected through ``Session.genitems`` like any others, so that
    they are counted, reported and seen by other plugins (xdist among them).
    """
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return
    collector = EchoFuzzCollector.from_parent(session, name="echofuzz", nodeid="echofuzz")
    collector.settings = settings
    items.extend(session.genitems(collector))


class EchoFuzzCollector(pytest.Collector):
    """The ``echofuzz`` node: one campaign, or one item per shard under xdist."""

    settings: EchoSettings

    def collect(self) -> list[pytest.Item]:
        shards = self.settings.shards
        names = ["campaign"] if shards == 1 else [f"shard{shard}" for shard in range(shards)]
        return [
            EchoFuzzItem.from_parent(self, name=name, shard=shard, settings=self.settings)
            for shard, name in enumerate(names)
        ]


class EchoFuzzFailure(Exception):
    """A divergence or an unusable target; its message is the whole failure report."""


class EchoFuzzItem(pytest.Item):
    """One shard of the campaign, as a test."""

    def __init__(self, *, shard: int, settings: EchoSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.settings = settings

    @property
    def obj(self) -> Callable[[], None]:
        """The test's function, as plugins that expect every item to be one look for it.

        pytest-trio's trio mode, for one, inspects ``item.obj`` of every item to
        decide whether it is a trio test; ours is a plain synchronous function.
        """
        return self.runtest

    def runtest(self) -> None:
        settings = self.settings
        seed = settings.seed(self.shard)
        options = dataclasses.replace(settings.options, seed=seed)
        target = settings.target()
        guard = InterruptGuard()
        try:
            with guard.installed():
                result = run_guarded(target, options, guard)
        except TargetError as exc:
            raise EchoFuzzFailure(f"echofuzz: error: {exc}") from None
        self.user_properties.append(("echofuzz", result.to_json()))
        repro = self._write_outputs(result, options)
        report = (
            None if settings.report is None else settings.per_shard(settings.report, self.shard)
        )
        summary = format_summary(result, repro, report, settings.command(self.shard))
        if result.verdict == "interrupted":
            raise KeyboardInterrupt
        if result.verdict == "fail":
            raise EchoFuzzFailure(summary)
        self.add_report_section("call", "echofuzz", summary)  # shown by -rP, -rA

    def _write_outputs(self, result: FuzzResult, options: FuzzOptions) -> Path | None:
        """The same script and report as the command line's, one per shard."""
        settings = self.settings
        repro: Path | None = None
        if result.verdict == "fail" and result.reproduction:
            repro = settings.per_shard(settings.repro, self.shard)
            comment = [
                f"Found by echofuzz (seed {result.seed}) against {result.target}:",
                f"  {result.reason}",
            ]
            write_script(repro, script_source(result.reproduction, options.deadline, comment))
        if settings.report is not None:
            path = settings.per_shard(settings.report, self.shard)
            write_atomically(
                path, report_json(result, options, repro, settings.command(self.shard))
            )
        return repro

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, EchoFuzzFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        settings = self.settings
        target = settings.spawn if settings.spawn is not None else settings.address
        return self.path, None, f"{self.nodeid}: {target}, seed {settings.seed(self.shard)}"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def echo_portal() -> Iterator[TrioThread]:
    """A trio loop on a thread, closed at the end of the test."""
    with TrioThread() as portal:
        yield portal


@pytest.fixture
def echo_oracle(echo_portal: TrioThread) -> tuple[str, int]:
    """The address of a running oracle: a correct echo server on ``echo_portal``'s loop."""
    return echo_portal.call(EchoOracle().start, echo_portal.nursery)


@pytest.fixture
def echo_executor(
    echo_portal: TrioThread, echo_oracle: tuple[str, int]
) -> Iterator[Callable[..., DifferentialExecutor]]:
    """``make(address, deadline=1.0)``: runs steps against ``address`` and the oracle at once."""
    made: list[DifferentialExecutor] = []

    def make(address: tuple[str, int], deadline: float = 1.0) -> DifferentialExecutor:
        executor = DifferentialExecutor(echo_portal, address, echo_oracle, deadline)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.discard()


@pytest.fixture
def echo_campaign() -> Callable[..., FuzzResult]:
    """``run(target, **options)``: a whole campaign; ``target`` may be a ``"HOST:PORT"`` string."""

    def run(target: Target | str, **options: Any) -> FuzzResult:
        if isinstance(target, str):
            target = AddressTarget(parse_address(target))
        guard = InterruptGuard()
        with guard.installed():
            result = run_guarded(target, FuzzOptions(**options), guard)
        if result.verdict == "interrupted":
            raise KeyboardInterrupt
        return result

    return run
