"""Claim: a task's wait on a socket is its own, ends with it, and outlasts a wake-up for nothing.

Sources. PEP 3156 ("I/O Callbacks") watches the two directions of a
descriptor separately:

    ``add_reader(fd, callback, *args)``.  Arrange for ``callback(*args)`` to
    be called whenever file descriptor ``fd`` is deemed ready for reading.

    ``add_writer(fd, callback, *args)``.  Like ``add_reader()``, but
    registers the callback for writing instead of for reading.

so one task may wait to read a socket while another waits to write it, and
each is woken by its own readiness. Linux's select(2), under BUGS:

    Under Linux, select() may report a socket file descriptor as "ready for
    reading", while nevertheless a subsequent read blocks. [...] There may be
    other circumstances in which a file descriptor is spuriously reported as
    ready. Thus it may be safer to use O_NONBLOCK on sockets that should not
    block.

So readiness is a hint: ``accept`` and ``recv`` on a non-blocking socket must
treat "ready, but nothing there" as "wait again", not as an error and not as
an empty result. The checks make such a wake-up happen on purpose: another
task, woken first in the same turn, takes the connection or the bytes.

And cancellation (PEP 3156, "Tasks": cancelling "throws an
``asyncio.CancelledError`` exception into the coroutine") ends the wait it
interrupts: the socket is free for another task to wait on.

>>> from spec.loop.subject import reference
>>> check_a_reader_and_a_writer_wait_on_one_socket_at_once(reference())
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from spec.loop.subject import FutureLike, LoopUnderTest, require

T = TypeVar("T")

WATCHDOG_SECONDS = 100.0
"""Virtual seconds after which a check cancels what still waits: it fails rather than hangs."""


@contextmanager
def _socket_pair(buffer: int | None = None) -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for sock in (ours, theirs):
            if buffer is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
            sock.setblocking(False)
        yield ours, theirs


def check_a_recv_woken_for_nothing_waits_again(loop: LoopUnderTest) -> None:
    """A recv whose socket turns out empty when it is woken waits for the next bytes."""
    with _socket_pair() as (ours, theirs):

        async def scenario() -> tuple[object, object]:
            victim = loop.Task(_coroutine(loop.recv(ours, 100)))
            go = loop.Future()

            async def thief() -> bytes:
                await go  # woken by a callback, so ahead of the victim's wake-up by readiness
                stolen = ours.recv(100)
                await loop.sleep(1)  # the victim's wake-up comes now, and finds nothing
                theirs.send(b"later")
                return stolen

            stealing = loop.Task(thief())
            await loop.sleep(1)  # the victim waits to read
            theirs.send(b"first")
            go.set_result(None)
            watchdog = loop.Task(_cancel_after(loop, victim))
            stolen = await stealing
            try:
                got: object = await victim
            except loop.CancelledError:
                got = "still waiting at the watchdog"
            watchdog.cancel()
            return stolen, got

        stolen, got = loop.run(scenario())
    require(stolen == b"first", f"the other task read {stolen!r}, not the first bytes")
    require(got == b"later", f"a recv woken with nothing to read gave {got!r}, not b'later'")


def check_an_accept_woken_for_nothing_waits_again(loop: LoopUnderTest) -> None:
    """An accept whose connection was taken by someone else waits for the next connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        address = listener.getsockname()
        clients: list[socket.socket] = []

        async def scenario() -> tuple[object, object]:
            victim = loop.Task(_coroutine(loop.accept(listener)))
            go = loop.Future()

            async def thief() -> object:
                await go
                stolen, _ = listener.accept()
                with stolen:
                    await loop.sleep(1)
                    clients.append(socket.create_connection(address, timeout=10))
                    return stolen.getpeername()

            stealing = loop.Task(thief())
            await loop.sleep(1)
            clients.append(socket.create_connection(address, timeout=10))
            go.set_result(None)
            watchdog = loop.Task(_cancel_after(loop, victim))
            stolen = await stealing
            try:
                accepted = await victim
            except loop.CancelledError:
                return stolen, "still waiting at the watchdog"
            finally:
                watchdog.cancel()
            if not isinstance(accepted, tuple):
                return stolen, accepted
            with accepted[0] as connection:
                return stolen, connection.getpeername()

        try:
            stolen, got = loop.run(scenario())
            names = [client.getsockname() for client in clients]
        finally:
            for client in clients:
                client.close()
    require(stolen == names[0], f"the other task accepted {stolen}, not the first client")
    require(got == names[1], f"an accept woken for nothing gave {got}, not the next client")


def check_a_reader_and_a_writer_wait_on_one_socket_at_once(loop: LoopUnderTest) -> None:
    """One task blocked reading a socket and another blocked writing it are woken each by its own.

    Whichever began to wait first: the reader reads once while the writer
    stays blocked, the writer gets through while the reader waits again, and
    then, with only the reader waiting, the loop is idle.
    """
    payload = bytes(range(256)) * 1024
    for first in ("reader", "writer"):
        with _socket_pair(buffer=4096) as (ours, theirs):

            async def scenario(
                first: str = first, ours: socket.socket = ours, theirs: socket.socket = theirs
            ) -> tuple[bool, object, bool, bytes, bool, bool]:
                read: list[bytes] = []

                async def read_twice() -> list[bytes]:
                    for _ in range(2):
                        read.append(await loop.recv(ours, 100))
                    return read

                def start_reader() -> FutureLike:
                    return loop.Task(read_twice())

                def start_writer() -> FutureLike:
                    return loop.Task(_coroutine(loop.sendall(ours, payload)))

                starts = [start_reader, start_writer]
                if first == "writer":
                    starts.reverse()
                started: list[FutureLike] = []
                for start in starts:
                    started.append(start())
                    await loop.sleep(1)
                reader, writer = started if first == "reader" else started[::-1]
                both_waited = not reader.done() and not writer.done()
                theirs.send(b"one")
                await loop.sleep(1)  # the reader reads, and waits again; the writer waits on
                writer_still_waiting = read == [b"one"] and not writer.done()
                received = bytearray()

                async def drain() -> None:
                    for _ in range(len(payload)):  # every recv gets at least a byte
                        if len(received) >= len(payload):
                            return
                        received.extend(await loop.recv(theirs, 65536))

                draining = loop.Task(drain())  # the writer gets through while the reader waits
                watchdog = loop.Task(_cancel_after(loop, reader, writer, draining))
                await _outcome(loop, draining)
                writer_done = writer.done() and not writer.cancelled() and not reader.done()
                # The socket stays writable: a loop still watching for that would never be
                # idle, and under a virtual clock never reach the end of this sleep.
                before = loop.now()
                await loop.sleep(1)
                idle = loop.now() == before + 1
                theirs.send(b"two")
                try:
                    got: object = await reader
                except loop.CancelledError:
                    got = "still waiting at the watchdog"
                watchdog.cancel()
                return both_waited, got, writer_still_waiting, bytes(received), writer_done, idle

            both_waited, got, writer_still_waiting, received, writer_done, idle = loop.run(
                scenario()
            )
        context = f"(the {first} waiting first)"
        require(both_waited, f"the reader or the writer did not have to wait {context}")
        require(
            got == [b"one", b"two"], f"the reader, beside a blocked writer, got {got!r} {context}"
        )
        require(
            writer_still_waiting,
            f"the reader did not read while the writer stayed blocked {context}",
        )
        require(
            received == payload and writer_done,
            f"the writer's bytes did not arrive while the reader waited {context}",
        )
        require(idle, f"with only the reader left waiting, the loop never went idle {context}")


def check_cancelling_a_socket_wait_frees_the_socket(loop: LoopUnderTest) -> None:
    """After the waiting task is cancelled, another task can wait on the same socket and read."""
    with _socket_pair() as (ours, theirs):

        async def scenario() -> tuple[bool, object]:
            first = loop.Task(_coroutine(loop.recv(ours, 100)))
            await loop.sleep(1)
            first.cancel()
            await loop.sleep(1)
            second = loop.Task(_coroutine(loop.recv(ours, 100)))
            watchdog = loop.Task(_cancel_after(loop, second))
            await loop.sleep(1)
            theirs.send(b"for the second")
            try:
                got: object = await second
            except loop.CancelledError:
                got = "still waiting at the watchdog"
            watchdog.cancel()
            return first.cancelled(), got

        first_cancelled, got = loop.run(scenario())
    require(first_cancelled, "the first waiter was not cancelled")
    require(got == b"for the second", f"the second waiter on a freed socket got {got!r}")


async def _coroutine(awaitable: Awaitable[T]) -> T:
    """A Task takes a coroutine; the loop's socket functions promise only an awaitable."""
    return await awaitable


async def _outcome(loop: LoopUnderTest, task: FutureLike) -> object:
    try:
        return await task
    except loop.CancelledError:
        return "cancelled by the watchdog"


async def _cancel_after(loop: LoopUnderTest, *tasks: FutureLike) -> None:
    await loop.sleep(WATCHDOG_SECONDS)
    for task in tasks:
        task.cancel()
