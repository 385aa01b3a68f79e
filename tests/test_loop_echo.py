"""The async echo server, run as a real process and spoken to over real loopback sockets.

Every wait is bounded: sockets carry timeouts, pumps carry deadlines, and the
server process is killed when the module's tests are done.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import selectors
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0


class Server:
    def __init__(self, process: subprocess.Popen[bytes], host: str, port: int) -> None:
        self.process, self.host, self.port = process, host, port

    def connect(self, receive_buffer: int | None = None) -> socket.socket:
        client = socket.socket()
        if receive_buffer is not None:  # before connect(), so the window is negotiated small
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        client.settimeout(TIMEOUT)
        client.connect((self.host, self.port))
        return client

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"the server exited with {self.process.returncode}"


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"no line from the server within {timeout}s: {line!r}")
            chunk = os.read(process.stdout.fileno(), 1)
            if not chunk:
                raise AssertionError(f"the server closed stdout after {line!r}")
            line += chunk
    return line.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("echo") / "stderr.txt") as running:
        yield running


@contextlib.contextmanager
def serving(errors):
    """Start the server, yield it once it has announced its port, kill it after; no stderr."""
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "impl.async_echo", "--port", "0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    with process:
        try:
            line = _first_line(process, TIMEOUT)
            match = re.fullmatch(r"listening on (\S+):(\d+)\n", line)
            assert match, f"unexpected first line {line!r}"
            yield Server(process, match[1], int(match[2]))
        finally:
            process.kill()
            process.wait(timeout=TIMEOUT)
    assert process.returncode is not None
    assert errors.read_text() == "", errors.read_text()


def pump(client: socket.socket, payload: bytes, deadline: float = 30.0) -> bytes:
    """Send ``payload`` while reading the echo, then half-close and read to EOF."""
    client.setblocking(False)
    view, received, half_closed = memoryview(payload), bytearray(), False
    give_up = time.monotonic() + deadline
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while True:
            if time.monotonic() > give_up:
                raise AssertionError(
                    f"echo not done after {deadline}s: sent {len(payload) - len(view)} "
                    f"of {len(payload)}, received {len(received)}"
                )
            if not view and not half_closed:
                client.shutdown(socket.SHUT_WR)
                half_closed = True
                selector.modify(client, selectors.EVENT_READ)
            for _, events in selector.select(timeout=1.0):
                if events & selectors.EVENT_READ:
                    chunk = client.recv(1 << 16)
                    if not chunk:
                        return bytes(received)
                    received += chunk
                if events & selectors.EVENT_WRITE and view:
                    with contextlib.suppress(BlockingIOError):
                        view = view[client.send(view[: 1 << 16]) :]


def fill_without_reading(client: socket.socket, limit: int = 64 << 20) -> bytes:
    """Send until the connection stops taking data for half a second; return what was sent."""
    client.setblocking(False)
    sent = bytearray()
    chunk = bytes(range(251)) * 256
    give_up = time.monotonic() + TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_WRITE)
        while len(sent) < limit and time.monotonic() < give_up:
            if not selector.select(timeout=0.5):
                return bytes(sent)
            with contextlib.suppress(BlockingIOError):
                sent += chunk[: client.send(chunk)]
    raise AssertionError(f"the server kept reading a client that never reads ({len(sent)} bytes)")


def test_the_server_echoes_every_byte_value_in_order(server):
    payload = bytes(range(256)) * 64
    with server.connect() as client:
        assert pump(client, payload) == payload
    server.assert_alive()


def test_a_4_mib_echo_completes_while_a_client_with_a_small_buffer_reads_nothing(server):
    with server.connect(receive_buffer=4096) as lazy, server.connect() as busy:
        owed_to_lazy = fill_without_reading(lazy)
        assert len(owed_to_lazy) > 4096  # the server did take some, and is now stuck on it
        payload = os.urandom(4 << 20)
        started = time.monotonic()
        assert pump(busy, payload) == payload
        assert time.monotonic() - started < 30
        lazy.settimeout(TIMEOUT)
        assert pump(lazy, b"") == owed_to_lazy  # nothing of the stuck client was lost
    server.assert_alive()


def test_after_a_half_close_the_server_echoes_all_it_owes_then_closes_with_fin(server):
    payload = os.urandom(256 * 1024)
    with server.connect() as client:
        client.setblocking(False)
        sent = 0
        give_up = time.monotonic() + TIMEOUT
        while sent < len(payload) and time.monotonic() < give_up:  # send all before reading any
            try:
                sent += client.send(payload[sent:])
            except BlockingIOError:
                break
        echoed = pump(client, payload[sent:])
        assert echoed == payload
        client.settimeout(TIMEOUT)
        assert client.recv(1) == b""  # still EOF: a FIN, not a reset
    server.assert_alive()


def test_a_client_reset_or_early_disconnect_ends_only_that_connection(server):
    with server.connect() as steady:
        steady.sendall(b"before")
        assert steady.recv(6) == b"before"

        with server.connect() as rude:  # sends a burst, then resets the connection
            rude.sendall(os.urandom(1 << 20))
            rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with server.connect() as gone:  # sends, then closes without reading the echo
            gone.sendall(os.urandom(1 << 16))
        server.connect().close()  # connects and leaves at once

        time.sleep(0.2)  # let the server run into the reset and the closed peers
        steady.settimeout(TIMEOUT)
        assert pump(steady, b"after") == b"after"
    with server.connect() as newcomer:
        assert pump(newcomer, b"still accepting") == b"still accepting"
    server.assert_alive()


def test_twenty_concurrent_clients_each_get_their_own_bytes_back(server):
    clients = [server.connect() for _ in range(20)]
    try:
        payloads = [os.urandom(32 * 1024) for _ in clients]
        for client, payload in zip(clients, payloads, strict=True):
            client.sendall(payload[:1000])  # all connections open and mid-stream at once
        for client, payload in zip(clients, payloads, strict=True):
            assert pump(client, payload[1000:]) == payload
    finally:
        for client in clients:
            client.close()
    server.assert_alive()


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs prlimit() (Linux)")
def test_out_of_file_descriptors_the_server_waits_and_then_serves_everyone(tmp_path):
    with serving(tmp_path / "stderr.txt") as running:
        # Room for the server's own descriptors and a few connections, not for all twelve.
        _, hard = resource.prlimit(running.process.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(running.process.pid, resource.RLIMIT_NOFILE, (16, hard))
        clients = [running.connect() for _ in range(12)]  # the kernel's backlog takes them all
        try:
            for number, client in enumerate(clients):
                client.sendall(f"client {number}".encode())
            time.sleep(0.3)  # the server accepts what it can, then meets EMFILE
            running.assert_alive()
            for number, client in enumerate(clients):  # each one served frees a descriptor
                assert pump(client, b"") == f"client {number}".encode()
                client.close()
        finally:
            for client in clients:
                client.close()
        running.assert_alive()
