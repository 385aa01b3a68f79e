"""The reference select-based echo server: the article's design, made correct.

The architecture is the article's: every socket has a generator task, kept in a
dict keyed by the socket, and a loop around ``select`` resumes the tasks whose
sockets are ready. The differences are the bugs it fixes.

Design principles, and why:

* **A task yields what it waits for.** The article's tasks yield nothing, so the
  loop can only wait for *readable*, and ``sendall`` on a non-blocking socket
  raises ``BlockingIOError`` as soon as a client reads slower than it writes.
  Here a task yields :attr:`Wait.READABLE` or :attr:`Wait.WRITABLE`, and the
  loop asks for each socket to become that.
* **Flow control by not reading.** A connection task holds at most one chunk
  it owes the client. While it owes bytes it sends what the kernel accepts
  (``send`` may be partial), waiting for *writable* only when the kernel takes
  nothing; it reads again only once the debt is paid. A client that stops
  reading therefore fills its own TCP window and is slowed down by TCP,
  without stalling anyone else and without the server buffering without bound.
  Sending before waiting saves a trip through ``select`` per chunk, since the
  socket is almost always writable; every read still waits for *readable*
  first, so a client that always has data cannot starve the others.
* **Half-close is echo-everything-then-FIN.** When ``recv`` returns ``b""`` the
  task keeps writing until it owes nothing, then shuts down its write side: the
  client sees every byte and then EOF, never a reset.
* **A connection's failure ends that connection only.** Resets, broken pipes
  and clients that connect and reset at once raise ``OSError`` inside their own
  task, which ends and closes its socket; the listener's task logs a failed
  ``accept`` and listens on. Those are the only ways a task fails without a
  bug, so the loop catches nothing: any other exception is a bug in this
  file, and it stops the server with its traceback rather than being logged
  and forgotten. The peer address comes from ``accept``:
  ``getpeername`` fails with ``ENOTCONN`` once the peer has reset, which is one
  of the ways the article's server dies.
* **Never block on our own output.** Nothing is printed per message: a
  parent that stops draining a pipe would otherwise freeze the whole loop in
  ``print``. The one line ``listening on HOST:PORT`` is flushed once the socket
  listens; with ``--verbose`` there are log lines on stderr, else nothing.

The loop calls ``select.poll`` rather than the article's ``select.select``,
which cannot watch descriptors numbered 1024 or more: a crowd of a thousand
clients gets there, and the article's server dies of it (``ValueError:
filedescriptor out of range in select()``). ``poll`` takes the same question
-- these sockets, readable or writable? -- without that limit.

Run it as ``python -m impl.select_echo --port N [--host H] [--verbose]``;
``--port 0`` lets the kernel pick a free port.
"""

from __future__ import annotations

import enum
import logging
import select
import socket
from collections.abc import Generator, Sequence

from impl.serving import announce, configure_logging, open_listener, parse_arguments

CHUNK_SIZE = 262144
"""How much one ``recv`` may take, which is also the most a task ever owes.

256 KiB, as asyncio's transports read: with 64 KiB, streaming across two
cores was a third slower than asyncio streams (``benchmarks/servers.py``).
"""

logger = logging.getLogger("impl.select_echo")


class Wait(enum.Enum):
    """What a task waits for on its own socket before it can make progress."""

    READABLE = "readable"
    WRITABLE = "writable"


Task = Generator[Wait, None, None]
"""A generator that yields each time it must wait for its socket."""


class Loop:
    """Resume each task when its socket is ready for what the task waits for.

    ``tasks`` and ``waits`` are keyed by socket, as in the article: a socket
    belongs to exactly one task, and a task waits on its own socket only.
    """

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.tasks: dict[socket.socket, Task] = {}
        self.waits: dict[socket.socket, Wait] = {}

    def spawn(self, sock: socket.socket, task: Task) -> None:
        """Start a task: run it up to its first wait."""
        self.tasks[sock] = task
        self.resume(sock)

    def resume(self, sock: socket.socket) -> None:
        """Run the socket's task up to its next wait, or to its end (its socket is closed by then).

        An exception from a task propagates: the tasks catch the ``OSError``
        that a connection or an ``accept`` can fail with, so anything else is
        a bug, and it ends the server instead of one connection.
        """
        try:
            self.waits[sock] = self.tasks[sock].send(None)
        except StopIteration:
            self.forget(sock)

    def forget(self, sock: socket.socket) -> None:
        """Stop tracking a socket whose task has ended."""
        del self.tasks[sock]
        self.waits.pop(sock, None)

    def run(self) -> None:
        """Wait for ready sockets and resume their tasks, while we can accept."""
        while self.listener in self.tasks:
            poller = select.poll()
            sockets = {}
            for sock, wait in self.waits.items():
                poller.register(sock, select.POLLIN if wait is Wait.READABLE else select.POLLOUT)
                sockets[sock.fileno()] = sock
            for number, _ in poller.poll():
                # A socket appears at most once: it waits for one thing. An error or a
                # hang-up is reported as an event too; the task meets it as OSError.
                sock = sockets[number]
                if sock in self.tasks:
                    self.resume(sock)

    def close_all(self) -> None:
        """Close every task, which closes its socket, on the way out."""
        for task in list(self.tasks.values()):
            task.close()
        self.tasks.clear()
        self.waits.clear()


def accept_connections(listener: socket.socket, loop: Loop) -> Task:
    """Accept clients and spawn a connection task for each."""
    while True:
        yield Wait.READABLE
        try:
            conn, peer = listener.accept()
        except BlockingIOError:
            continue  # Someone else's readiness, or a spurious wake-up.
        except OSError as error:
            # ECONNABORTED (the client reset before accept), EMFILE, ENFILE:
            # none of them is the listener's fault, so keep listening.
            logger.warning("accept failed: %r", error)
            continue
        conn.setblocking(False)
        logger.info("%s: connected", peer)
        loop.spawn(conn, echo_connection(conn, peer))


def echo_connection(conn: socket.socket, peer: object) -> Task:
    """Echo every byte back, then FIN after the client's FIN.

    Holds at most one chunk at a time (see the module docstring for why).
    """
    owed = bytearray()
    client_has_finished = False
    echoed = 0
    with conn:
        try:
            while True:
                if owed:
                    try:
                        sent = conn.send(owed)
                    except BlockingIOError:
                        yield Wait.WRITABLE
                        continue
                    del owed[:sent]
                    echoed += sent
                elif not client_has_finished:
                    yield Wait.READABLE
                    try:
                        chunk = conn.recv(CHUNK_SIZE)
                    except BlockingIOError:
                        continue
                    owed += chunk
                    client_has_finished = not chunk
                else:
                    conn.shutdown(socket.SHUT_WR)
                    logger.info("%s: echoed %d bytes, then FIN", peer, echoed)
                    return
        except OSError as error:
            logger.info("%s: connection ended by %r after %d bytes", peer, error, echoed)


def main(argv: Sequence[str] | None = None) -> None:
    """Listen, announce the port, and run the loop until killed."""
    arguments = parse_arguments(
        "python -m impl.select_echo", "Echo server: generator tasks resumed by select().", argv
    )
    configure_logging(logger, arguments.verbose)
    listener = open_listener(arguments.host, arguments.port, blocking=False)
    loop = Loop(listener)
    with listener:
        loop.spawn(listener, accept_connections(listener, loop))
        announce(listener)
        try:
            loop.run()
        except KeyboardInterrupt:
            pass
        finally:
            loop.close_all()


if __name__ == "__main__":
    main()
