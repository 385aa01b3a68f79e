"""The fuzzer's client side: one TCP connection, observed into a ``Ledger``.

A real client reads while it writes; otherwise a large payload deadlocks
against any server with flow control (the server stops reading once it cannot
write). So every connection has a reader task that drains the socket into the
ledger continuously -- unless it is a *slow reader*, whose reader is paused on
purpose so that the server meets back-pressure. Writes that must not block the
step (the slow reader's payload) run as background tasks.

Nothing here raises for what a server does: errors become ledger states
(``remote`` is "eof" or "reset") or returned strings, because the verdict is
the executor's job and divergences must be raised from one place.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

import trio

from spec.echo.model import Ledger, is_settled

#: Bytes per ``recv``; bigger means fewer wake-ups for large echoes.
READ_SIZE = 262144
#: Bytes per ``send`` call, so a multi-MiB payload does not pin one syscall.
WRITE_SIZE = 1048576


class ClientConnection:
    """One connection to one server, with its reader task and its ledger."""

    def __init__(self, name: str, sock: trio.socket.SocketType) -> None:
        self.name = name
        self.sock = sock
        self.ledger = Ledger()
        self.write_error: str | None = None
        self.written = 0  # bytes the kernel has taken from this client so far
        self._changed = trio.Event()
        self._reading = trio.Event()
        self._writer_done = trio.Event()
        self._writer_done.set()
        self._scope = trio.CancelScope()  # the reader's
        self._writer_scope = trio.CancelScope()  # the background writer's
        self._closed = False

    @classmethod
    async def open(
        cls,
        name: str,
        address: tuple[str, int],
        nursery: trio.Nursery,
        timeout: float,
        rcvbuf: int = 0,
        reading: bool = True,
    ) -> ClientConnection | str:
        """Connect and start the reader; a string saying why on failure."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the window the server sees is small from the start.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        problem: str | None = None
        with trio.move_on_after(timeout) as scope:
            try:
                await sock.connect(address)
            except OSError as exc:
                problem = f"connect failed: {describe_os_error(exc)}"
        if scope.cancelled_caught:
            problem = f"connect did not complete within {timeout:.2f} s"
        if problem is not None:
            sock.close()
            return problem
        conn = cls(name, sock)
        if reading:
            conn._reading.set()
        nursery.start_soon(conn._read_loop)
        return conn

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _read_loop(self) -> None:
        with self._scope:
            while True:
                await self._reading.wait()
                try:
                    data = await self.sock.recv(READ_SIZE)
                except (OSError, trio.ClosedResourceError) as exc:
                    if not self._closed and isinstance(exc, OSError):
                        self.ledger.remote = "reset"
                    self._notify()
                    return
                if not data:
                    self.ledger.remote = "eof"
                    self._notify()
                    return
                self.ledger.received += data
                self._notify()

    def resume_reading(self) -> None:
        self._reading.set()

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                sent = await self.sock.send(view[:WRITE_SIZE])
                self.written += sent
                view = view[sent:]
        except (OSError, trio.ClosedResourceError) as exc:
            if not self._closed:
                self.write_error = describe_os_error(exc)

    async def send(self, data: bytes, timeout: float) -> str | None:
        """Write ``data`` within ``timeout``; None, or what went wrong."""
        self.ledger.sent += data  # before writing: nothing can echo back sooner
        with trio.move_on_after(timeout):
            await self._write(data)
            return self.write_error
        return f"sending {len(data)} bytes did not finish within {timeout:.2f} s"

    def send_in_background(self, data: bytes, nursery: trio.Nursery) -> None:
        """Start writing ``data`` without waiting, as a client that will read later."""
        self.ledger.sent += data
        self._writer_done = trio.Event()

        async def write() -> None:
            with self._writer_scope:
                try:
                    await self._write(data)
                finally:
                    self._writer_done.set()

        nursery.start_soon(write)

    async def wait_for_back_pressure(self, timeout: float, quiet: float) -> None:
        """Wait until the background write is done or has made no progress for ``quiet`` s.

        A slow reader's step means "the server has felt the back-pressure": a
        correct server has stopped reading, a broken one has done whatever it
        does when its sends would block. Without this wait that moment would
        depend on how long the next steps happen to take.
        """
        with trio.move_on_after(timeout):
            last = -1
            while not self._writer_done.is_set() and self.written != last:
                last = self.written
                with trio.move_on_after(quiet):
                    await self._writer_done.wait()

    async def wait_written(self, timeout: float) -> bool:
        """Wait for a background write to finish (a half-close must not cut it short)."""
        with trio.move_on_after(timeout):
            await self._writer_done.wait()
            return True
        return False

    async def settle(self, until_eof: bool, timeout: float) -> bool:
        """Wait until the echo is complete (and EOF, if asked) or the server ended it."""
        with trio.move_on_after(timeout):
            await self._writer_done.wait()
            while not is_settled(self.ledger, until_eof):
                await self._changed.wait()
            return True
        return False

    def shutdown_write(self) -> str | None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            return f"half-close failed: {describe_os_error(exc)}"
        return None

    def close(self, abortive: bool = False) -> None:
        """Close now; with ``abortive`` the kernel sends RST instead of FIN."""
        if self._closed:
            return
        self._closed = True
        self._scope.cancel()
        self._writer_scope.cancel()
        if abortive:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def describe_os_error(exc: BaseException) -> str:
    """A short name for a socket error: 'connection reset', 'broken pipe', ..."""
    if isinstance(exc, trio.ClosedResourceError):
        return "socket closed"
    if isinstance(exc, OSError) and exc.errno is not None:
        names = {
            errno.ECONNRESET: "connection reset by the server",
            errno.EPIPE: "broken pipe (the server closed)",
            errno.ECONNREFUSED: "connection refused",
        }
        return names.get(exc.errno, os.strerror(exc.errno))
    return str(exc)
