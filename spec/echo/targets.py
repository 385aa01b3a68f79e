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
import shlex
import signal
import socket
import subprocess
import threading
import time
from typing import IO, Protocol

#: How long a spawned server may take to accept its first connection.
STARTUP_TIMEOUT = 15.0
#: How long a stopping server gets between SIGTERM and SIGKILL.
STOP_GRACE = 2.0
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

    def start(self) -> None: ...

    def address(self) -> tuple[str, int]: ...

    def ensure_running(self, force_restart: bool = False) -> bool:
        """Make sure it runs; True if it had to be (re)started."""
        ...

    def death_notice(self, grace: float = 0.0) -> str | None:
        """If the server has died (waiting up to ``grace`` s for it to finish dying): how."""
        ...

    def stop(self) -> None: ...


def wait_until_accepting(address: tuple[str, int], timeout: float, alive: object = None) -> bool:
    """Poll ``address`` until a TCP connect succeeds; False after ``timeout`` s."""
    limit = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < limit:
        if callable(alive) and not alive():
            return False
        try:
            with socket.create_connection(address, timeout=max(0.05, limit - time.monotonic())):
                return True
        except OSError:
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    return False


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``; TargetError with a readable line otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TargetError(f"expected HOST:PORT (like 127.0.0.1:7000), got {text!r}")
    return host, int(port)


class AddressTarget:
    """A server someone else runs; echofuzz can observe it but not restart it."""

    def __init__(self, address: tuple[str, int], connect_timeout: float = 3.0) -> None:
        self._address = address
        self._timeout = connect_timeout
        self.description = f"{address[0]}:{address[1]}"
        self.restartable = False

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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SpawnedTarget:
    """A server echofuzz starts from a command line containing ``{port}``."""

    def __init__(
        self, command: str, host: str = "127.0.0.1", startup_timeout: float = STARTUP_TIMEOUT
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
        self._port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._drains: list[threading.Thread] = []
        self.stdout: collections.deque[str] = collections.deque(maxlen=KEPT_LINES)
        self.stderr: collections.deque[str] = collections.deque(maxlen=KEPT_LINES)

    def address(self) -> tuple[str, int]:
        return self.host, self._port

    def start(self) -> None:
        self._port = free_port(self.host)
        argv = [word.replace("{port}", str(self._port)) for word in self.words]
        self.stdout.clear()
        self.stderr.clear()
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
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self._drains = [
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True)
            for stream, lines in ((process.stdout, self.stdout), (process.stderr, self.stderr))
        ]
        for thread in self._drains:
            thread.start()
        ready = wait_until_accepting(
            self.address(), self.startup_timeout, alive=lambda: process.poll() is None
        )
        if not ready:
            notice = self.death_notice()
            self.stop()
            if notice:
                raise TargetError(f"the server {notice}")
            raise TargetError(
                f"the server did not accept connections on {self.host}:{self._port} "
                f"within {self.startup_timeout:g} s"
            )

    @staticmethod
    def _drain(stream: IO[bytes], lines: collections.deque[str]) -> None:
        for line in iter(stream.readline, b""):
            lines.append(line.decode(errors="replace").rstrip())

    def death_notice(self, grace: float = 0.0) -> str | None:
        process = self._process
        if process is None:
            return None
        try:
            process.wait(grace) if grace > 0 else None
        except subprocess.TimeoutExpired:
            return None
        if process.poll() is None:
            return None
        for thread in self._drains:
            thread.join(0.5)  # let the last words arrive
        said = ""
        for lines in (self.stderr, self.stdout):  # a traceback's last line says most
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            if last:
                cut = last if len(last) <= SHOWN_LAST_WORDS else last[:SHOWN_LAST_WORDS] + "..."
                said = f": {cut}"
                break
        return f"exited with status {process.returncode}{said}"

    def ensure_running(self, force_restart: bool = False) -> bool:
        process = self._process
        if not force_restart and process is not None and process.poll() is None:
            return False
        self.stop()
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
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
        for thread in self._drains:
            thread.join(STOP_GRACE)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        self._drains = []
