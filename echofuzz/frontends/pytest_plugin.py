"""pytest plugin for echofuzz: fuzz an echo server as part of a test run, or test with our parts.

It is registered through the ``pytest11`` entry point, so it is active wherever
this package is installed -- including this repository's own test runs. So it
is inert unless asked: without ``--echo-target`` or ``--echo-spawn`` it adds no
test, prints nothing, warns about nothing and imports nothing heavy (trio and
Hypothesis arrive with a campaign or a fixture, not with the plugin); its
fixtures merely exist.

Fuzzing as a test
-----------------
::

    pytest --echo-spawn "python my_server.py --port {port}" -k echofuzz
    pytest --echo-target 127.0.0.1:7000 --echo-max-examples 200 --echo-seed 7

adds one test item, ``echofuzz``, that runs the same campaign as the
``echofuzz`` command and fails with the minimal sequence (and writes the same
standalone reproduction script) when the server diverges from the oracle.
``-k echofuzz`` leaves the project's other tests out. Options mirror the
command line, from the same table (``echofuzz.options.OPTIONS``): each
``--flag`` of ``echofuzz`` is ``--echo-flag`` here (``--echo-max-examples``,
``--echo-seed``, ``--echo-deadline``, ...), plus ``--echo-shards``.

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

    from echofuzz.engine.targets import SpawnedTarget
    from echofuzz.vocabulary import Payload, Step

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
from typing import TYPE_CHECKING, Any

import pytest

from echofuzz.engine.targets import (
    AddressTarget,
    SpawnedTarget,
    Target,
    TargetError,
    parse_address,
)
from echofuzz.options import OPTIONS, FuzzOptions, command_words, help_text, options_from

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

    from echofuzz.engine.executor import DifferentialExecutor
    from echofuzz.engine.portal import TrioThread
    from echofuzz.result import FuzzResult

#: Where the plugin keeps its checked settings between configure and collection.
SETTINGS_KEY = pytest.StashKey["EchoSettings"]()
SEED_SPACE = 1_000_000
#: Options of the command line that make no sense inside pytest.
NOT_HERE = frozenset({"replay"})


@dataclass
class EchoSettings:
    """The ``--echo-*`` options, checked once in ``pytest_configure``."""

    address: str | None
    spawn: str | None
    options: FuzzOptions
    database: ExampleDatabase | None
    base_seed: int
    shards: int
    report: Path | None
    repro: Path
    extra_words: list[str] = field(default_factory=list)

    def target(self) -> Target:
        """A fresh target for one shard (a spawned server is started by its campaign)."""
        if self.spawn is not None:
            timeout = self.options.connect_timeout(spawned=True)
            return SpawnedTarget(self.spawn, startup_timeout=timeout)
        assert self.address is not None
        timeout = self.options.connect_timeout(spawned=False)
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
    """Every option of the table, spelled ``--echo-...`` (the target as ``--echo-target``)."""
    group = parser.getgroup("echofuzz", "echofuzz: differential fuzzing of a TCP echo server")
    for option in OPTIONS:
        if option.dest in NOT_HERE:
            continue
        dest = f"echo_{option.dest}"
        if option.parse is None:
            group.addoption(option.plugin_flag, dest=dest, action="store_true", help=option.help)
        else:
            group.addoption(
                option.plugin_flag,
                dest=dest,
                type=option.parse,
                default=None,
                metavar=option.metavar,
                help=help_text(option),
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


def _settings(config: pytest.Config) -> EchoSettings | None:
    """Check the options; None when the plugin is not asked to fuzz anything."""
    values = {
        option.dest: config.getoption(f"echo_{option.dest}")
        for option in OPTIONS
        if option.dest not in NOT_HERE
    }
    address, spawn = values["address"], values["spawn"]
    if address is None and spawn is None:
        return None
    if address is not None and spawn is not None:
        raise pytest.UsageError("echofuzz: give --echo-target or --echo-spawn, not both")
    options = options_from(values)
    try:
        if isinstance(address, str):
            parse_address(address)
        else:
            SpawnedTarget(str(spawn))
        from echofuzz.engine.databases import DatabaseError, open_database

        try:
            database = open_database(options.database)
        except DatabaseError as exc:
            raise TargetError(str(exc)) from None
    except TargetError as exc:
        raise pytest.UsageError(f"echofuzz: {exc}") from None
    invocation_dir = config.invocation_params.dir
    shards = values["shards"]
    return EchoSettings(
        address=address if isinstance(address, str) else None,
        spawn=spawn if isinstance(spawn, str) else None,
        options=options,
        database=database,
        base_seed=_base_seed(config, options.seed),
        shards=_shards(config, shards if isinstance(shards, int) else None),
        report=None if options.report is None else invocation_dir / options.report,
        repro=invocation_dir / options.repro,
        extra_words=command_words(options),
    )


def pytest_configure(config: pytest.Config) -> None:
    settings = _settings(config)
    if settings is not None:
        config.stash[SETTINGS_KEY] = settings


def pytest_unconfigure(config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is not None and settings.database is not None:
        from echofuzz.engine.databases import close_database

        close_database(settings.database)


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
        from echofuzz.frontends.interrupts import InterruptGuard, run_guarded
        from echofuzz.outputs.report import result_json
        from echofuzz.outputs.summary import format_summary

        settings = self.settings
        seed = settings.seed(self.shard)
        options = dataclasses.replace(settings.options, seed=seed)
        target = settings.target()
        guard = InterruptGuard()
        try:
            with guard.installed():
                result = run_guarded(target, options, guard, settings.database)
        except TargetError as exc:
            raise EchoFuzzFailure(f"echofuzz: error: {exc}") from None
        self.user_properties.append(("echofuzz", result_json(result)))
        repros = self._write_outputs(result, options)
        report = (
            None if settings.report is None else settings.per_shard(settings.report, self.shard)
        )
        summary = format_summary(result, repros, report, settings.command(self.shard))
        if result.verdict == "interrupted":
            raise KeyboardInterrupt
        if result.verdict in ("fail", "lost"):
            raise EchoFuzzFailure(summary)
        self.add_report_section("call", "echofuzz", summary)  # shown by -rP, -rA

    def _write_outputs(self, result: FuzzResult, options: FuzzOptions) -> list[Path]:
        """The same scripts and report as the command line's, one set per shard."""
        from echofuzz.outputs.report import report_text
        from echofuzz.outputs.script import write_atomically, write_bug_scripts

        settings = self.settings
        repros: list[Path] = []
        if result.verdict == "fail":
            first = settings.per_shard(settings.repro, self.shard)
            repros = write_bug_scripts(first, result, options.deadline, options.half_close)
        if settings.report is not None:
            path = settings.per_shard(settings.report, self.shard)
            first_repro = repros[0] if repros else None
            write_atomically(
                path, report_text(result, options, first_repro, settings.command(self.shard))
            )
        if options.html is not None:
            from echofuzz.options import declared_behaviours
            from echofuzz.outputs.html import html_report, write_html

            page = html_report(result, options, declared_behaviours(options))
            invocation_dir = self.config.invocation_params.dir
            write_html(settings.per_shard(invocation_dir / options.html, self.shard), page)
        return repros

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
    from echofuzz.engine.portal import TrioThread

    with TrioThread() as portal:
        yield portal


@pytest.fixture
def echo_oracle(echo_portal: TrioThread) -> tuple[str, int]:
    """The address of a running oracle: a correct echo server on ``echo_portal``'s loop."""
    from echofuzz.engine.oracle import EchoOracle

    return echo_portal.call(EchoOracle().start, echo_portal.nursery)


@pytest.fixture
def echo_executor(
    echo_portal: TrioThread, echo_oracle: tuple[str, int]
) -> Iterator[Callable[..., DifferentialExecutor]]:
    """``make(address, deadline=1.0)``: runs steps against ``address`` and the oracle at once."""
    from echofuzz.engine.executor import DifferentialExecutor

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
        from echofuzz.frontends.interrupts import InterruptGuard, run_guarded

        if isinstance(target, str):
            target = AddressTarget(parse_address(target))
        guard = InterruptGuard()
        with guard.installed():
            result = run_guarded(target, FuzzOptions(**options), guard)
        if result.verdict == "interrupted":
            raise KeyboardInterrupt
        return result

    return run
