"""The fuzzer's client side: one TCP connection, observed into a ``Ledger``.

A real client reads while it writes; otherwise a large payload deadlocks
against any server with flow control (the server stops reading once it cannot
write). So from its first send on, a connection has a reader task that drains
the socket into the ledger continuously -- unless it is a *slow reader*, whose
reader is paused on purpose so that the server meets back-pressure. Writes
that must not block the step (the slow reader's payload) run as background
tasks.

Before its first send, nothing should arrive on a connection, and most
connections the fuzzer opens never send at all (they are closed or reset
empty). Those get no reader task: ``poll`` reads whatever is there without
waiting, which the executor does after every step, and a reader is started
only when a step has to wait for something to arrive (an EOF after a
half-close). A server that closes or writes to an idle connection is seen at
the same point either way: at the end of the step.

Nothing here raises for what a server does: errors become ledger states
(``remote`` is "eof" or "reset") or returned strings, because the verdict is
the executor's job and divergences must be raised from one place.

The sockets are plain non-blocking stdlib sockets; trio supplies the waiting
(``trio.lowlevel.wait_readable``/``wait_writable``), the tasks and the
deadlines. A call is made first and waited on only if the kernel says
``EAGAIN``, so a write that fits in the socket buffer costs one system call and
no trip through the scheduler, and a reader costs one trip per chunk. (trio's
socket wrappers add a scheduling checkpoint to every call; in the fuzzer's
inner loop those checkpoints were most of a step's cost.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct

import trio

from echofuzz.model import Ledger, is_settled
from echofuzz.wire import BackPressureWatch

#: Bytes per ``recv``; bigger means fewer wake-ups for large echoes.
READ_SIZE = 262144
#: A slow reader's receive buffer once it drains (the kernel doubles it).
DRAIN_RCVBUF = 1048576
#: Bytes per ``send`` call, so a multi-MiB payload does not pin one syscall.
WRITE_SIZE = 1048576


class Pulse:
    """Wakes every waiter at each ``fire()``: a trio.Event that can happen many times.

    One is shared by all the connections of a test case, so that a single task
    can wait for several of them to settle.
    """

    def __init__(self) -> None:
        self._event = trio.Event()
        self._waiting = 0

    def fire(self) -> None:
        if self._waiting:  # most fires find nobody waiting, and then there is nothing to do
            self._event.set()
            self._event = trio.Event()

    async def wait(self) -> None:
        self._waiting += 1
        try:
            await self._event.wait()
        finally:
            self._waiting -= 1


class ClientConnection:
    """One connection to one server, with its reader task and its ledger."""

    def __init__(
        self, name: str, sock: socket.socket, changes: Pulse, nursery: trio.Nursery
    ) -> None:
        self.name = name
        self.sock = sock
        self.nursery = nursery
        self.ledger = Ledger()
        self.write_error: str | None = None
        self.written = 0  # bytes the kernel has taken from this client so far
        #: Fired on every change of the ledger and at the end of a background write.
        self.changes = changes
        #: Set while the reader is paused (a slow reader): the event that resumes it.
        self._resume: trio.Event | None = None
        #: Set while a background write runs: the event that marks its end.
        self._writer_done: trio.Event | None = None
        self._reader_started = False
        self._reader_running = False
        self._closed = False

    @staticmethod
    def start_connect(address: tuple[str, int], rcvbuf: int = 0) -> socket.socket | str:
        """The first half of opening a connection, without waiting: a connecting socket, or why not.

        Starting two connections before waiting for either lets both handshakes
        run at once without a task each.
        """
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if rcvbuf:
                # Before connect, so the window the server sees is small from the start.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            code = sock.connect_ex(address)
        except OSError as exc:
            sock.close()
            return f"connect failed: {describe_os_error(exc)}"
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN):
            sock.close()
            return f"connect failed: {describe_os_error(OSError(code, os.strerror(code)))}"
        return sock

    @classmethod
    async def finish_connect(
        cls,
        name: str,
        sock: socket.socket,
        nursery: trio.Nursery,
        timeout: float,
        reading: bool = True,
        changes: Pulse | None = None,
    ) -> ClientConnection | str:
        """The second half: wait for the handshake; the reader starts with the first send."""
        problem = await _connected(sock, timeout)
        if problem is not None:
            sock.close()
            return problem
        conn = cls(name, sock, changes if changes is not None else Pulse(), nursery)
        if not reading:
            conn._resume = trio.Event()
        return conn

    def ensure_reader(self) -> None:
        """Start the reader task, unless it has started before or nothing more can arrive."""
        if not (self._reader_started or self._closed) and self.ledger.remote == "open":
            self._reader_started = self._reader_running = True
            self.nursery.start_soon(self._read_loop)

    def poll(self) -> None:
        """Without a reader task: read what has arrived, without waiting, into the ledger."""
        if self._reader_started or self._closed or self._resume is not None:
            return
        while self.ledger.remote == "open":
            if not self._receive():
                return

    async def _read_loop(self) -> None:
        # No cancel scope: ``close`` ends this task by waking it (notify_closing,
        # or the resume event), which is cheaper than cancelling it.
        try:
            await self._read_until_the_end()
        finally:
            self._reader_running = False

    async def _read_until_the_end(self) -> None:
        sock = self.sock
        while True:
            if self._resume is not None:
                await self._resume.wait()
            if self._closed:
                return  # closed before this task ran: the socket has no number left
            try:
                await trio.lowlevel.wait_readable(sock)
            except trio.ClosedResourceError:
                self.changes.fire()
                return
            if self._receive() and self.ledger.remote != "open":
                return

    def _receive(self) -> bool:
        """One ``recv`` into the ledger: whether anything happened (data, EOF or an error)."""
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            if not self._closed:
                self.ledger.remote = "reset"
            self.changes.fire()
            return True
        if data:
            self.ledger.received += data
        else:
            self.ledger.remote = "eof"
        self.changes.fire()
        return True

    def resume_reading(self) -> None:
        """A slow reader reads again, and now as fast as it can.

        Its receive buffer was made small so that the server would meet
        back-pressure early; draining megabytes through it would take a wake-up
        per few KiB, so it is made large again first.
        """
        if self._resume is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, DRAIN_RCVBUF)
            self._resume.set()
            self._resume = None

    def _write_now(self, view: memoryview) -> memoryview:
        """Write what the kernel takes without waiting; the rest (empty after an error)."""
        try:
            while view:
                sent = self.sock.send(view[:WRITE_SIZE])
                self.written += sent
                view = view[sent:]
        except BlockingIOError:
            pass
        except OSError as exc:
            if not self._closed:
                self.write_error = describe_os_error(exc)
            return view[:0]
        return view

    async def _write(self, view: memoryview) -> None:
        try:
            while view:
                view = self._write_now(view)
                if view:
                    await trio.lowlevel.wait_writable(self.sock)
        except trio.ClosedResourceError:
            pass  # closed by this client while waiting; not the server's doing

    def start_send(self, data: bytes, reader: bool = True) -> memoryview:
        """Record ``data`` as sent and write what fits now; the part still to write.

        ``reader=False`` leaves the echo to ``poll``: for a short line a crowd
        member sends, whose echo cannot deadlock against the write, a reader
        task per member would only cost a thousand tasks.
        """
        self.ledger.sent += data  # before writing: nothing can echo back sooner
        if reader:
            self.ensure_reader()
        return self._write_now(memoryview(data))

    async def finish_send(self, rest: memoryview, timeout: float) -> str | None:
        """Write the rest of a send within ``timeout``; None, or what went wrong."""
        if rest:
            with trio.move_on_after(timeout) as scope:
                await self._write(rest)
            if scope.cancelled_caught:
                return f"sending did not finish within {timeout:.2f} s"
        return self.write_error

    def send_in_background(self, data: bytes, nursery: trio.Nursery) -> None:
        """Start writing ``data`` without waiting, as a client that will read later."""
        self.ledger.sent += data
        self.ensure_reader()
        done = self._writer_done = trio.Event()

        async def write() -> None:
            try:
                await self._write(memoryview(data))
            finally:
                done.set()
                if self._writer_done is done:
                    self._writer_done = None
                self.changes.fire()

        nursery.start_soon(write)

    async def wait_for_back_pressure(self, timeout: float) -> None:
        """Wait until the server has felt this slow reader's back-pressure.

        See ``wire.BackPressureWatch``: the same rule as the reproduction
        script's, so that a step means the same thing in both.
        """
        with trio.move_on_after(timeout):
            watch = BackPressureWatch(self.sock, trio.current_time())
            while (pause := watch.pause(self.written, trio.current_time())) is not None:
                await trio.sleep(pause)

    async def wait_written(self, timeout: float) -> bool:
        """Wait for a background write to finish (a half-close must not cut it short)."""
        done = self._writer_done
        if done is None:
            return True
        with trio.move_on_after(timeout):
            await done.wait()
            return True
        return False

    def settled(self, until_eof: bool) -> bool:
        """The echo is complete (and EOF came, if asked) or the server ended it."""
        return self._writer_done is None and is_settled(self.ledger, until_eof)

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
        self.resume_reading()  # a paused reader wakes, sees the socket closed, and ends
        if abortive:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self._reader_running or self._writer_done is not None:
            # Tasks waiting on the socket (the reader, a background writer) wake
            # with ClosedResourceError, which ends them quietly. (With nobody
            # waiting, trio holds nothing that closing could leave stale.)
            trio.lowlevel.notify_closing(self.sock)
        self.sock.close()


async def _connected(sock: socket.socket, timeout: float) -> str | None:
    """Wait up to ``timeout`` s for a connect in progress; None, or why it failed."""
    try:
        sock.getpeername()
        return None  # on loopback the handshake is often over already
    except OSError:
        pass
    code = errno.EINPROGRESS
    with trio.move_on_after(timeout):
        await trio.lowlevel.wait_writable(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code == errno.EINPROGRESS:
        return f"connect did not complete within {timeout:.2f} s"
    if code:
        return f"connect failed: {describe_os_error(OSError(code, os.strerror(code)))}"
    return None


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
