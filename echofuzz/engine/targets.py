"""Servers under test: one already listening at an address, or a command echofuzz runs.

A spawned server is the fuzzer's to manage, and it is managed defensively:

1. The command is split like a shell line (``shlex``) but run without a shell;
   ``{port}`` becomes a free loopback port, chosen fresh at every (re)start.
2. Readiness is "accepts a TCP connection", polled within a bounded time; a
   process that exits first is reported with its status and last stderr line.
3. Its stdout and stderr are drained by threads into short ring buffers, so a
   chatty server can never block on a full pipe and its last words are kept.
4. It runs in its own session (process group), so stopping it stops its
   children too: SIGTERM, a bounded wait, then SIGKILL.
5. It is restarted whenever it has died or wedged, and on request (before
   each replay of a shrink candidate once a failure has been seen).
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from echofuzz.engine.last_words import cause_of_death, killed_by
from echofuzz.options import ADDRESS_CONNECT_TIMEOUT, SPAWN_STARTUP_TIMEOUT

#: How long a stopping server gets between SIGTERM and SIGKILL.
STOP_GRACE = 2.0
#: While a failure's grace lasts, a server's exit is looked for this often (s)...
EXIT_POLL = 0.01
#: ...until it has been seen idle, every thread asleep, this many looks in a row.
IDLE_LOOKS = 3
#: How long a server must outlive a listener on its port that it does not hold (s).
FOREIGN_LISTENER_GRACE = 1.0
#: Random ports tried before letting the kernel pick one.
PORT_TRIES = 50
#: Starts retried on a fresh port when the server says its port is in use.
BIND_RETRIES = 3
#: Lines of a spawned server's output kept for error messages.
KEPT_LINES = 40
#: Characters of a dead server's last line shown in a reason.
SHOWN_LAST_WORDS = 200


class TargetError(Exception):
    """The target cannot be used: not reachable, would not start, bad command (exit 2)."""


class Target(Protocol):
    """What the fuzzer needs of a server under test."""

    description: str
    #: Whether echofuzz can start the server afresh (it spawned it).
    restartable: bool
    #: How many times it was started afresh.
    restarts: int

    def start(self) -> None: ...

    def address(self) -> tuple[str, int]: ...

    def ensure_running(self, force_restart: bool = False) -> bool:
        """Make sure it runs; True if it had to be (re)started."""
        ...

    def death_notice(self, grace: float = 0.0) -> str | None:
        """If the server has died (waiting up to ``grace`` s for it to finish dying): how."""
        ...

    def stop(self) -> None: ...


def wait_until_accepting(
    address: tuple[str, int],
    timeout: float,
    alive: Callable[[], bool] | None = None,
    look: bool = False,
    owned: Callable[[], set[int] | None] | None = None,
) -> bool:
    """Poll ``address`` until it accepts; False after ``timeout`` s or if the server dies.

    With ``look``, and where the kernel tells (Linux's ``/proc/net/tcp``), a
    socket listening on the port is enough, and nothing connects: a server
    that serves one connection and exits would otherwise spend it on this
    probe, and be taken for no echo server at all. ``owned`` then names the
    socket inodes the server holds (None: cannot tell), and the listening
    socket must be one of them: a port that another process took between
    ``free_port`` and the server's ``bind`` is listening, but not for us. A
    server whose listener lives elsewhere (a container's port forwarder, a
    daemon that left the session) is taken as ready once it has lived
    ``FOREIGN_LISTENER_GRACE`` s beside it: one that lost the port dies sooner.
    """
    limit = time.monotonic() + timeout
    delay = 0.005
    foreign_since: float | None = None
    while time.monotonic() < limit:
        if alive is not None and not alive():
            return False
        listening = listening_sockets() if look else None
        if listening is not None:
            if address[1] in listening:
                mine = owned() if owned is not None else None
                if mine is None or listening[address[1]] & mine:
                    return True
                now = time.monotonic()
                foreign_since = now if foreign_since is None else foreign_since
                if now - foreign_since >= FOREIGN_LISTENER_GRACE:
                    return True
        else:
            try:
                with socket.create_connection(address, timeout=max(0.05, limit - time.monotonic())):
                    return True
            except OSError:
                pass
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    return False


#: The kernel's tables of TCP sockets, and the state number of a listening one.
PROC_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
LISTEN_STATE = "0A"


def listening_sockets() -> dict[int, set[int]] | None:
    """Each local port with a listening TCP socket, and those sockets' inodes; None if unknown."""
    ports: dict[int, set[int]] = {}
    found = False
    for table in PROC_TCP:
        try:
            with open(table, encoding="ascii") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        found = True
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == LISTEN_STATE:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                ports.setdefault(port, set()).add(int(fields[9]))
    return ports if found else None


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``; TargetError with a readable line otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TargetError(f"expected HOST:PORT (like 127.0.0.1:7000), got {text!r}")
    return host, int(port)


class AddressTarget:
    """A server someone else runs; echofuzz can observe it but not restart it."""

    def __init__(
        self, address: tuple[str, int], connect_timeout: float = ADDRESS_CONNECT_TIMEOUT
    ) -> None:
        self._address = address
        self._timeout = connect_timeout
        self.description = f"{address[0]}:{address[1]}"
        self.restartable = False
        self.restarts = 0

    def start(self) -> None:
        try:
            with socket.create_connection(self._address, timeout=self._timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TargetError(f"cannot connect to {self.description}: {reason}") from None

    def address(self) -> tuple[str, int]:
        return self._address

    def ensure_running(self, force_restart: bool = False) -> bool:
        return False

    def death_notice(self, grace: float = 0.0) -> str | None:
        return None

    def stop(self) -> None:
        pass


def ephemeral_ports() -> range:
    """The kernel's range for outgoing connections' local ports (Linux; a safe guess elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = (int(word) for word in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now and outside the ephemeral range.

    The fuzzer's own client sockets take ephemeral ports by the thousand; a
    server told to listen on one of those may find it taken by the time it
    binds. Ports below the ephemeral range are only ever taken on purpose.
    """
    ephemeral = ephemeral_ports()
    candidates = [p for p in range(10000, 30000) if p not in ephemeral]
    for port in random.sample(candidates, min(PORT_TRIES, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything tried was taken: let the kernel choose
        s.bind((host, 0))
        return int(s.getsockname()[1])


def session_pids(leader: int) -> list[int] | None:
    """The processes in ``leader``'s process group (a spawned server's session); None if unknown."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    members = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if len(fields) > 3 and int(fields[3]) == leader:
            members.append(int(pid))
    return members


@dataclass
class ServerProcess:
    """One running copy of a spawned server, with the drains that keep its pipes empty."""

    process: subprocess.Popen[bytes]
    port: int
    drains: list[threading.Thread]
    stdout: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_LINES)
    )
    stderr: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_LINES)
    )

    def alive(self) -> bool:
        return self.process.poll() is None

    def running(self) -> bool | None:
        """Whether a thread of any process in its session is on a CPU or in the kernel.

        None where ``/proc`` cannot say. A server that is dying is busy dying
        (printing its traceback, running its handlers, exiting); one that
        waits in ``accept`` or ``select`` for all its threads is not dying.
        """
        pids = session_pids(self.process.pid)
        if pids is None:
            return None
        for pid in pids:
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/stat", "rb") as stat:
                        state = stat.read().rsplit(b")", 1)[1].split()[0]
                    if state in (b"R", b"D"):
                        return True
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile, or not ours to read
        return False

    def socket_inodes(self) -> set[int] | None:
        """The inodes of the sockets its session's processes hold; None where unknown."""
        pids = session_pids(self.process.pid)
        if pids is None:
            return None
        inodes: set[int] = set()
        for pid in pids:
            folder = f"/proc/{pid}/fd"
            try:
                links = [os.readlink(f"{folder}/{fd}") for fd in os.listdir(folder)]
            except PermissionError:
                return None  # not ours to read: cannot tell
            except OSError:
                continue  # gone meanwhile (or a descriptor closed while listed)
            inodes.update(int(link[8:-1]) for link in links if link.startswith("socket:["))
        return inodes

    def wait_while_busy(self, grace: float) -> None:
        """Wait up to ``grace`` s for an exit, but not for a server that sits idle.

        After a failure, a dying server's exit may lag its connections' ends;
        a server that is merely wrong sits waiting for its next client, and
        waiting the whole grace for it after every failing case was once most
        of a run's time.
        """
        end = time.monotonic() + grace
        idle = 0
        while idle < IDLE_LOOKS:
            try:
                self.process.wait(max(0.0, min(EXIT_POLL, end - time.monotonic())))
                return
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= end:
                return
            idle = idle + 1 if self.running() is False else 0

    def last_words(self) -> str:
        """The line that best says why it died, whatever its language (``last_words``)."""
        for thread in self.drains:
            thread.join(0.5)  # let the last words arrive
        return cause_of_death(list(self.stderr), list(self.stdout))

    def kill(self) -> None:
        """Stop it and every process in its session, then close its pipes."""
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_GRACE)
        else:
            # The leader is gone; its children may not be.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for thread in self.drains:
            thread.join(STOP_GRACE)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


class SpawnedTarget:
    """A server echofuzz starts from a command line containing ``{port}``.

    Once restarts become frequent (after a failure, every test case starts on a
    fresh server), a spare copy is launched ahead of time, so that a restart
    costs a swap rather than an interpreter start-up.
    """

    def __init__(
        self, command: str, host: str = "127.0.0.1", startup_timeout: float = SPAWN_STARTUP_TIMEOUT
    ) -> None:
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise TargetError(f"cannot split the command {command!r}: {exc}") from None
        if not words:
            raise TargetError("the --spawn command is empty")
        if not any("{port}" in word for word in words):
            raise TargetError("the --spawn command must contain {port}, where the port goes")
        self.words = words
        self.host = host
        self.startup_timeout = startup_timeout
        self.description = command
        self.restartable = True
        self.restarts = 0
        self.keep_spare = False
        self._current: ServerProcess | None = None
        self._spare: ServerProcess | None = None

    def address(self) -> tuple[str, int]:
        return self.host, self._current.port if self._current else 0

    def _launch(self) -> ServerProcess:
        port = free_port(self.host)
        argv = [word.replace("{port}", str(port)) for word in self.words]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TargetError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        server = ServerProcess(process, port, [])
        assert process.stdout is not None and process.stderr is not None
        for stream, lines in ((process.stdout, server.stdout), (process.stderr, server.stderr)):
            thread = threading.Thread(target=drain, args=(stream, lines), daemon=True)
            thread.start()
            server.drains.append(thread)
        return server

    def start(self) -> None:
        for attempt in range(BIND_RETRIES):
            server, self._spare = self._spare or self._launch(), None
            self._current = server
            port = server.port
            if wait_until_accepting(
                (self.host, port),
                self.startup_timeout,
                server.alive,
                look=True,
                owned=server.socket_inodes,
            ):
                break
            notice = self.death_notice()
            if notice and "in use" in notice and attempt + 1 < BIND_RETRIES:
                server.kill()  # someone took the port between our check and its bind
                continue
            self.stop()
            if notice:
                raise TargetError(f"the server {notice}")
            raise TargetError(
                f"the server did not accept connections on {self.host}:{port} "
                f"within {self.startup_timeout:g} s"
            )
        if self.keep_spare:
            self._spare = self._launch()

    def death_notice(self, grace: float = 0.0) -> str | None:
        server = self._current
        if server is None:
            return None
        if grace > 0:
            server.wait_while_busy(grace)
        if server.alive():
            return None
        said = server.last_words()
        if len(said) > SHOWN_LAST_WORDS:
            said = said[:SHOWN_LAST_WORDS] + "..."
        code = server.process.returncode
        how = (
            f"was {killed_by(code)}"
            if code < 0 and killed_by(code)
            else f"exited with status {code}"
        )
        return how + (f": {said}" if said else "")

    def ensure_running(self, force_restart: bool = False) -> bool:
        if not force_restart and self._current is not None and self._current.alive():
            return False
        self.keep_spare = True  # restarts have begun; they tend to continue
        server, self._current = self._current, None
        if server is not None:
            server.kill()
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        for server in (self._current, self._spare):
            if server is not None:
                server.kill()
        self._current = self._spare = None


def drain(stream: IO[bytes], lines: collections.deque[str]) -> None:
    """Read a pipe to its end, keeping the last lines: the server never blocks on output."""
    for line in iter(stream.readline, b""):
        lines.append(line.decode(errors="replace").rstrip())
