"""The fuzzer's clients: reader tasks only where data can arrive, and nothing missed without them.

Connections that never send are most of what the fuzzer opens, and they get no
reader task (see ``echofuzz/engine/client.py``). These tests pin both halves of that
bargain: the tasks are really not started, and a server that writes to, closes
or resets such an idle connection is still reported, at the end of a step.
"""

import contextlib
import socket
import struct
import threading

import pytest
import trio

from echofuzz.engine.executor import DifferentialExecutor
from echofuzz.engine.oracle import EchoOracle
from echofuzz.engine.portal import TrioThread
from echofuzz.vocabulary import Payload, Step

#: Upper bound on any wait in these tests.
PATIENCE = 5.0


class ReaderCount(trio.abc.Instrument):
    """Counts the client reader tasks spawned on the loop it is added to."""

    def __init__(self) -> None:
        self.readers = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("ClientConnection._read_loop"):
            self.readers += 1


async def _add(instrument: trio.abc.Instrument) -> None:
    trio.lowlevel.add_instrument(instrument)


def test_connections_that_send_nothing_start_no_reader_task_and_those_that_send_do():
    with TrioThread() as portal:
        target = portal.call(EchoOracle().start, portal.nursery)
        count = ReaderCount()
        portal.call(_add, count)
        executor = DifferentialExecutor(portal, target, None, deadline=2.0)
        try:
            idle = [
                Step("connect", conn="c1"),
                Step("close", conn="c1"),
                Step("connect", conn="c2"),
                Step("reset", conn="c2"),
                Step("connect_reset", conn="c3"),
            ]
            assert executor.execute_all(idle) == (len(idle), [])
            assert count.readers == 0
            busy = [
                Step("connect", conn="c4"),
                Step("send", conn="c4", payload=Payload.literal(b"hello")),
                Step("expect", conn="c4"),
            ]
            assert executor.execute_all(busy) == (len(busy), [])
            assert count.readers == 2  # the target's connection and the oracle's
            # A half-close waits for an EOF, so even an idle connection needs a reader then.
            assert executor.execute_all([Step("connect", conn="c5")]) == (1, [])
            assert executor.execute_all([Step("half_close", conn="c5")]) == (1, [])
            assert count.readers == 4
        finally:
            executor.discard()


class IdleConnectionServer:
    """Accepts connections and, before anything arrives, does ``action`` to each.

    ``acted`` is set once the action has been done to the first connection.
    """

    def __init__(self, action: str) -> None:
        self.action = action
        self.acted = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(PATIENCE)
        self.address = self.listener.getsockname()[:2]
        self.kept: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "IdleConnectionServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):  # wakes the accept, which closing would not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(PATIENCE)
        for conn in self.kept:
            conn.close()

    def _serve(self) -> None:
        for _ in range(10):  # bounded: the tests open a handful of connections
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed by __exit__, or the wait ran out
            try:
                if self.action == "write":
                    self.kept.append(conn)
                    conn.sendall(b"welcome\n")
                elif self.action == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                else:
                    conn.close()
            except OSError:
                pass  # a later connection of the test may be reset by the client first
            self.acted.set()


@pytest.mark.parametrize(
    ("action", "symptoms"),
    [
        ("write", ("c1: got 8 bytes back but only 0 were sent",)),
        ("close", ("c1: the server closed the connection although the client did not",)),
        (
            "reset",
            (
                "c1: the server reset the connection although the client did not",
                # The reset can overtake the client's check that the handshake is over.
                "c1: connect failed: connection reset by the server",
            ),
        ),
    ],
)
def test_a_server_acting_on_an_idle_connection_is_reported_by_the_end_of_the_next_step(
    action, symptoms
):
    with TrioThread() as portal, IdleConnectionServer(action) as server:
        executor = DifferentialExecutor(portal, server.address, None, deadline=2.0)
        try:
            problems = executor.execute(Step("connect", conn="c1"))
            assert server.acted.wait(PATIENCE)
            if not problems:  # the server acted after the first step's checks
                problems = executor.execute(Step("connect_reset", conn="c2"))
            assert any(problem.startswith(symptoms) for problem in problems), problems
        finally:
            executor.discard()
