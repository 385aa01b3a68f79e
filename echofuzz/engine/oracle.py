"""The oracle: an echo server that obeys the echo model, written plainly on trio.

Every observation the fuzzer makes of a server under test is compared with the
same observation of this server, run in-process on the fuzzer's own trio loop.
It is correct by construction rather than by cleverness:

- one task per connection, so a stalled or dead client cannot hold up another;
- every byte received is sent before the next read, which is flow control: a
  client that does not read makes the oracle stop reading from it;
- end of input (the client's half-close) leaves the loop only after everything
  received was sent; then the socket is closed, with nothing unread, so the
  client sees FIN;
- a reset or broken pipe ends that connection's task and nothing else;
- the accept loop rides out ``EMFILE`` and its kin by pausing, as
  ``trio.serve_tcp`` does.

There are two renditions. ``StreamEchoOracle`` is the plainest code trio
allows (``serve_tcp``, ``receive_some``, ``send_all``). ``EchoOracle``, the one
the fuzzer uses, is the same loop on non-blocking stdlib sockets with trio's
``wait_readable``/``wait_writable``: it makes one trip through the scheduler
per chunk where the stream version makes three, and the oracle's share of a
fuzzer step fell accordingly. The tests fuzz both, as targets, against the
fuzzer's oracle (so the stream rendition checks the raw one) and check both
directly against the echo model, so the faster one is no article of faith.

The fuzzer reaches ``EchoOracle``'s echo loop through a socketpair
(``paired_connection``) rather than through its TCP listener: the same loop on
the other end, without a loopback handshake, an accept and a second TCP
teardown for every client connection. That halves the TCP connections a fuzzer
step makes. What the oracle is compared on -- the bytes echoed and how the
connection ended -- does not depend on the transport for a correct echo
server; the TCP listener stays for anyone who wants an address (the pytest
plugin's ``echo_oracle``), and the tests fuzz it as a target against the
paired oracle, which checks the two transports against each other.

That the oracle obeys the model is checked again at run time: the fuzzer
applies the model's invariants to the oracle's observations at every step.
"""

from __future__ import annotations

import errno
import socket
from functools import partial

import trio

#: Largest read; any value is correct, larger is faster.
CHUNK = 65536
#: Accept errors that concern the whole process, not one would-be client: pause, then retry.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: How long the accept loop pauses after one of those.
RESOURCE_PAUSE = 0.1


async def echo_socket(conn: socket.socket) -> None:
    """Echo one accepted non-blocking connection until the client's EOF, then close it."""
    try:
        while True:
            await trio.lowlevel.wait_readable(conn)
            try:
                data = conn.recv(CHUNK)
            except BlockingIOError:
                continue
            if not data:
                break
            view = memoryview(data)
            while view:
                try:
                    view = view[conn.send(view) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(conn)
    except OSError:
        pass  # the client reset or vanished: only this connection ends
    finally:
        conn.close()  # this task was the only one waiting on it: no notify_closing needed


def paired_connection(nursery: trio.Nursery) -> socket.socket:
    """A non-blocking client socket whose other end ``echo_socket`` serves in ``nursery``.

    Raises ``OSError`` when the process is out of descriptors, as ``connect`` would.
    """
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    nursery.start_soon(echo_socket, theirs)
    return ours


class EchoOracle:
    """The fuzzer's oracle; ``await oracle.start(nursery)`` gives its address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0

    async def start(self, nursery: trio.Nursery) -> tuple[str, int]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, 0))
            listener.listen(socket.SOMAXCONN)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self.port = int(listener.getsockname()[1])
        nursery.start_soon(self._accept_forever, listener, nursery)
        return self.host, self.port

    @staticmethod
    async def _accept_forever(listener: socket.socket, nursery: trio.Nursery) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(listener)
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno in RESOURCE_ERRORS:
                        await trio.sleep(RESOURCE_PAUSE)
                    continue  # ECONNABORTED and the like: that client gave up
                conn.setblocking(False)
                nursery.start_soon(echo_socket, conn)
        finally:
            trio.lowlevel.notify_closing(listener)
            listener.close()


async def echo_stream(stream: trio.SocketStream) -> None:
    """Echo one connection until the client's EOF, then close cleanly."""
    try:
        while True:
            data = await stream.receive_some(CHUNK)
            if not data:
                break
            await stream.send_all(data)
    except trio.BrokenResourceError:
        pass  # the client reset or vanished: only this connection ends
    finally:
        await stream.aclose()


class StreamEchoOracle(EchoOracle):
    """The same oracle on trio's high-level streams: the plainest rendition, kept as a check."""

    async def start(self, nursery: trio.Nursery) -> tuple[str, int]:
        serve = partial(trio.serve_tcp, echo_stream, 0, host=self.host)
        listeners: list[trio.SocketListener] = await nursery.start(serve)
        self.port = int(listeners[0].socket.getsockname()[1])
        return self.host, self.port
