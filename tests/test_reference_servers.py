"""Direct checks of the reference servers and of the corpus, with plain sockets.

These tests do not use the fuzzer: they drive each server with blocking
stdlib sockets, so that a failure here points at the server, not at the
fuzzer. Every socket has a timeout and every loop a deadline, so a server that
hangs fails a test instead of hanging the run. Each server runs as a
subprocess, started once per module and killed in a ``finally``.

What is checked, and on which servers:

* ``impl.select_echo`` and the correct corpus servers: every byte value, a
  half-close (all bytes, then EOF), resets (the connection's own, or a
  connect-then-reset) leaving other clients and new connections served, and a
  4 MiB exchange while another client with a 4 KiB receive buffer does not read.
* ``impl.blocking_echo``: the same, except what needs two clients at once; it
  serves one connection at a time, so clients are checked one after another.
* every corpus server: it starts, announces its port, accepts a connection,
  and declares ``EXPECTED``, ``STYLE`` and a docstring.
* the three reference servers (``impl.async_echo`` too): SIGINT, the Ctrl-C of
  a terminal, closes the open connections and exits with status 0, with no
  traceback.
"""

from __future__ import annotations

import ast
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
CORPUS = REPOSITORY / "tests" / "corpus"

START_SECONDS = 20.0
"""How long a server may take to announce its port (trio's import is slow)."""
IO_SECONDS = 10.0
"""The timeout of every socket operation and the deadline of every exchange."""

GRACE_SECONDS = 0.1
"""How long a server gets to react (or to crash) before we check on it."""

ANNOUNCEMENT = re.compile(r"listening on (?P<host>.+):(?P<port>\d+)")
STYLES = {
    "threads",
    "selectors",
    "select",
    "asyncio-streams",
    "asyncio-protocol",
    "trio",
    "socketserver",
}
EVERY_BYTE_VALUE = bytes(range(256))
FOUR_MIB = 4 << 20


def patterned(size: int) -> bytes:
    """``size`` bytes cycling through every byte value, offset by ``size``.

    Deterministic, so that a failure reproduces; not periodic in 4 KiB or
    64 KiB blocks, so that reordered or repeated blocks do not compare equal.
    """
    period = bytes((i * 7 + size) % 256 for i in range(251))
    return (period * (size // len(period) + 1))[:size]


# --- corpus files --------------------------------------------------------------


def corpus_files() -> list[Path]:
    """Every corpus server script (``server_cli.py`` is their shared helper)."""
    return sorted(path for path in CORPUS.glob("*.py") if path.name != "server_cli.py")


@dataclass(frozen=True)
class CorpusEntry:
    """What a corpus script declares about itself, read without importing it."""

    path: Path
    expected: object
    style: object
    docstring: str | None


def read_corpus_entry(path: Path) -> CorpusEntry:
    """Read ``EXPECTED``, ``STYLE`` and the docstring from the source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in {"EXPECTED", "STYLE"}:
                    constants[target.id] = ast.literal_eval(node.value)
    return CorpusEntry(
        path=path,
        expected=constants.get("EXPECTED"),
        style=constants.get("STYLE"),
        docstring=ast.get_docstring(tree),
    )


CORPUS_ENTRIES = [read_corpus_entry(path) for path in corpus_files()]
CLEAN_CORPUS = [entry.path for entry in CORPUS_ENTRIES if entry.expected == "clean"]


# --- running a server ----------------------------------------------------------


@dataclass(frozen=True)
class ServerCommand:
    """A server's name, and the command line that starts it on a free port."""

    name: str
    argv: list[str]


def reference(module: str) -> ServerCommand:
    """How to run a reference server."""
    return ServerCommand(module, [sys.executable, "-m", module, "--port", "0"])


def corpus(path: Path) -> ServerCommand:
    """How to run a corpus server."""
    return ServerCommand(path.stem, [sys.executable, str(path), "--port", "0"])


def as_params(commands: list[ServerCommand]) -> list[object]:
    """Fixture parameters named after their servers."""
    return [pytest.param(command, id=command.name) for command in commands]


@dataclass
class RunningServer:
    """A server subprocess and the port it announced."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int

    def connect(self, *, receive_buffer: int | None = None) -> socket.socket:
        """A connected client socket with a timeout (and maybe a tiny buffer).

        ``SO_RCVBUF`` must be set before ``connect``: it decides the window
        that the handshake advertises.
        """
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            client.settimeout(IO_SECONDS)
            if receive_buffer is not None:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            client.connect((self.host, self.port))
        except BaseException:
            client.close()
            raise
        return client

    def assert_alive(self) -> None:
        """The process has not exited (a crash is a failure of its own)."""
        assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode}"


def read_first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line of stdout, waiting at most ``timeout`` seconds.

    The read happens in a thread because a pipe read has no timeout; if the
    deadline passes, the caller kills the process, which ends the read.
    """
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout).decode("utf-8", errors="replace")
    except queue.Empty:
        return ""


@contextmanager
def running_server(command: ServerCommand) -> Iterator[RunningServer]:
    """Start a server, wait for its announcement, and always kill it after."""
    name, argv = command.name, command.argv
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            argv, cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            line = read_first_line(process, START_SECONDS)
            match = ANNOUNCEMENT.fullmatch(line.strip())
            if match is None:
                process.kill()
                process.wait(timeout=IO_SECONDS)
                stderr.seek(0)
                errors = stderr.read().decode("utf-8", errors="replace")
                pytest.fail(f"{name} announced {line!r} instead of its port\n{errors}")
            yield RunningServer(name, process, match["host"], int(match["port"]))
        finally:
            process.kill()
            process.wait(timeout=IO_SECONDS)
            assert process.stdout is not None
            process.stdout.close()


CONCURRENT_SERVERS = [reference("impl.select_echo"), *map(corpus, CLEAN_CORPUS)]
BLOCKING_SERVERS = [reference("impl.blocking_echo")]


@pytest.fixture(scope="module", params=as_params(CONCURRENT_SERVERS))
def concurrent_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server that must serve several clients at once."""
    with running_server(request.param) as server:
        yield server
        server.assert_alive()


@pytest.fixture(scope="module", params=as_params(BLOCKING_SERVERS))
def blocking_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """The reference server that serves one client at a time."""
    with running_server(request.param) as server:
        yield server
        server.assert_alive()


@pytest.fixture(scope="module", params=as_params(CONCURRENT_SERVERS + BLOCKING_SERVERS))
def any_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """Every server, for the checks that need only one client at a time."""
    with running_server(request.param) as server:
        yield server
        server.assert_alive()


# --- client helpers ------------------------------------------------------------


def receive_exactly(client: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes, failing on EOF or when the deadline passes."""
    received = bytearray()
    deadline = time.monotonic() + IO_SECONDS
    while len(received) < size:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(received)} of {size} bytes before the deadline"
        client.settimeout(remaining)
        chunk = client.recv(min(size - len(received), 1 << 20))
        assert chunk, f"EOF after {len(received)} of {size} bytes"
        received += chunk
    client.settimeout(IO_SECONDS)
    return bytes(received)


def receive_until_eof(client: socket.socket) -> bytes:
    """Read until EOF, failing when the deadline passes (a reset raises)."""
    received = bytearray()
    deadline = time.monotonic() + IO_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no EOF before the deadline, after {len(received)} bytes"
        client.settimeout(remaining)
        chunk = client.recv(1 << 20)
        if not chunk:
            client.settimeout(IO_SECONDS)
            return bytes(received)
        received += chunk


class BackgroundSend:
    """``sendall`` in a thread, so that a client can send while it reads.

    A client that sends a large payload before reading the echo deadlocks
    against any server with bounded buffers; real clients read and write
    concurrently, and so do these tests.
    """

    def __init__(self, client: socket.socket, payload: bytes, *, then_half_close: bool = False):
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._send, args=(client, payload, then_half_close), daemon=True
        )
        self._thread.start()

    def _send(self, client: socket.socket, payload: bytes, then_half_close: bool) -> None:
        try:
            client.sendall(payload)
            if then_half_close:
                client.shutdown(socket.SHUT_WR)
        except BaseException as error:  # Reported by join(), in the test's thread.
            self.error = error

    def join(self) -> None:
        """Wait (bounded) for the send to finish, re-raising its error."""
        self._thread.join(timeout=IO_SECONDS)
        assert not self._thread.is_alive(), "sendall did not finish before the deadline"
        if self.error is not None:
            raise self.error


def exchange(client: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` while reading back as many bytes; return what came back."""
    sending = BackgroundSend(client, payload)
    try:
        return receive_exactly(client, len(payload))
    finally:
        sending.join()


def reset(client: socket.socket) -> None:
    """Close abortively: ``SO_LINGER`` with a zero timeout makes ``close`` send RST."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def assert_serves_a_new_connection(server: RunningServer) -> None:
    """After a moment's grace, a fresh connection echoes and half-closes cleanly.

    The grace period lets a server that dies of what the client just did
    (say, a reset) die before we look, rather than after.
    """
    time.sleep(GRACE_SECONDS)
    with server.connect() as client:
        assert exchange(client, b"still there?") == b"still there?"
        client.shutdown(socket.SHUT_WR)
        assert receive_until_eof(client) == b""
    server.assert_alive()


# --- every server ----------------------------------------------------------------


def test_every_byte_value_is_echoed_unchanged(any_server: RunningServer) -> None:
    with any_server.connect() as client:
        payload = EVERY_BYTE_VALUE * 4 + EVERY_BYTE_VALUE[::-1]
        assert exchange(client, payload) == payload
        assert exchange(client, b"\xff") == b"\xff"
        assert exchange(client, b"\r\n\x00") == b"\r\n\x00"


def test_half_close_delivers_every_byte_then_eof(any_server: RunningServer) -> None:
    payload = patterned(1 << 20)
    with any_server.connect() as client:
        sending = BackgroundSend(client, payload, then_half_close=True)
        echoed = receive_until_eof(client)
        sending.join()
    assert len(echoed) == len(payload)
    assert echoed == payload


def test_half_close_right_after_a_small_send_still_gets_the_echo(any_server: RunningServer) -> None:
    with any_server.connect() as client:
        client.sendall(b"last words")
        client.shutdown(socket.SHUT_WR)
        assert receive_until_eof(client) == b"last words"


def test_a_client_reset_leaves_the_server_serving(any_server: RunningServer) -> None:
    client = any_server.connect()
    try:
        assert exchange(client, b"before the reset") == b"before the reset"
    finally:
        reset(client)
    assert_serves_a_new_connection(any_server)


def test_a_connect_then_reset_at_once_leaves_the_server_serving(any_server: RunningServer) -> None:
    reset(any_server.connect())
    assert_serves_a_new_connection(any_server)


def test_fifty_connections_in_turn_are_all_served_alike(any_server: RunningServer) -> None:
    # Enough to reach bugs that depend on how many connections came before.
    for number in range(50):
        with any_server.connect() as client:
            payload = EVERY_BYTE_VALUE + f"connection {number}".encode()
            assert exchange(client, payload) == payload, f"connection {number}"
            client.shutdown(socket.SHUT_WR)
            assert receive_until_eof(client) == b"", f"connection {number}"


# --- servers that serve clients concurrently -------------------------------------


def test_a_reset_client_does_not_disturb_another_open_client(
    concurrent_server: RunningServer,
) -> None:
    with concurrent_server.connect() as steady:
        assert exchange(steady, b"one") == b"one"
        doomed = concurrent_server.connect()
        try:
            assert exchange(doomed, b"doomed") == b"doomed"
            doomed.sendall(b"unread echo")  # Its echo is still owed when the RST lands.
        finally:
            reset(doomed)
        reset(concurrent_server.connect())
        assert exchange(steady, b"two") == b"two"
        steady.shutdown(socket.SHUT_WR)
        assert receive_until_eof(steady) == b""
    assert_serves_a_new_connection(concurrent_server)


def test_a_slow_reader_does_not_stall_a_4_mib_exchange_on_another_connection(
    concurrent_server: RunningServer,
) -> None:
    # Four MiB unread is more than loopback's auto-tuned buffers absorb
    # (about 3 MiB here), so a server without flow control fails here.
    slow_payload = patterned(FOUR_MIB + 1)
    fast_payload = patterned(FOUR_MIB)
    with concurrent_server.connect(receive_buffer=4096) as slow:
        slow_sending = BackgroundSend(slow, slow_payload)
        try:
            time.sleep(0.2)  # Let the slow client's bytes pile up first.
            with concurrent_server.connect() as fast:
                assert exchange(fast, fast_payload) == fast_payload
            assert receive_exactly(slow, len(slow_payload)) == slow_payload
        finally:
            slow_sending.join()
    concurrent_server.assert_alive()


def test_three_idle_clients_do_not_keep_a_fourth_from_being_served(
    concurrent_server: RunningServer,
) -> None:
    idle = [concurrent_server.connect() for _ in range(3)]
    try:
        with concurrent_server.connect() as fourth:
            assert exchange(fourth, b"fourth") == b"fourth"
        for number, client in enumerate(idle):
            message = f"idle {number}".encode()
            assert exchange(client, message) == message
    finally:
        for client in idle:
            client.close()


# --- the blocking server ------------------------------------------------------------


def test_the_blocking_server_serves_clients_one_after_another(
    blocking_server: RunningServer,
) -> None:
    for number in range(3):
        with blocking_server.connect() as client:
            message = f"client {number}".encode()
            assert exchange(client, message) == message
            client.shutdown(socket.SHUT_WR)
            assert receive_until_eof(client) == b""
    blocking_server.assert_alive()


def test_the_blocking_server_serves_a_waiting_client_once_the_first_leaves(
    blocking_server: RunningServer,
) -> None:
    with blocking_server.connect() as first, blocking_server.connect() as waiting:
        waiting.sendall(b"queued")
        assert exchange(first, b"first") == b"first"
        first.shutdown(socket.SHUT_WR)
        assert receive_until_eof(first) == b""
        assert receive_exactly(waiting, len(b"queued")) == b"queued"


# --- stopping -------------------------------------------------------------------------

INTERRUPTIBLE_SERVERS = [
    reference("impl.select_echo"),
    reference("impl.blocking_echo"),
    reference("impl.async_echo"),
]


@pytest.mark.parametrize("command", as_params(INTERRUPTIBLE_SERVERS))
def test_sigint_closes_the_open_connection_and_exits_with_status_0(command: ServerCommand) -> None:
    # Python raises KeyboardInterrupt on SIGINT only if it was not ignored when
    # the server started (it is, for a background job of a non-interactive shell).
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN, "SIGINT is ignored here"
    with running_server(command) as server, server.connect() as client:
        assert exchange(client, b"before ^C") == b"before ^C"
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=IO_SECONDS) == 0
        assert receive_until_eof(client) == b""


# --- the corpus ----------------------------------------------------------------------


def test_the_corpus_has_enough_broken_and_correct_servers_in_every_style() -> None:
    expectations = [entry.expected for entry in CORPUS_ENTRIES]
    assert expectations.count("caught") >= 17
    assert expectations.count("clean") >= 5
    assert {entry.style for entry in CORPUS_ENTRIES} == STYLES


@pytest.mark.parametrize("entry", CORPUS_ENTRIES, ids=[e.path.stem for e in CORPUS_ENTRIES])
def test_every_corpus_server_declares_its_expectation_style_and_story(entry: CorpusEntry) -> None:
    assert entry.expected in {"caught", "clean"}
    assert entry.style in STYLES
    assert entry.docstring
    if entry.expected == "caught":
        story = entry.docstring.lower()
        assert "bug:" in story
        assert "how a user meets it" in story
        assert "fuzzer operation" in story


@pytest.mark.parametrize("path", corpus_files(), ids=[path.stem for path in corpus_files()])
def test_every_corpus_server_starts_and_announces_its_port(path: Path) -> None:
    with running_server(corpus(path)) as server:
        client = server.connect()
        with suppress(OSError):
            client.shutdown(socket.SHUT_WR)
        client.close()
        server.assert_alive()
