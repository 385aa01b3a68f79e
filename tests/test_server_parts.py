"""The reference servers' parts, driven in this process: what no client can provoke on demand.

``test_reference_servers.py`` checks the servers from outside, as clients see
them. Some promises are about moments a client cannot produce on purpose: a
readiness that turns out to be nothing, an ``accept`` that fails, a bind that
fails, a port still in TIME_WAIT. Here the generator tasks of
``impl.select_echo`` are stepped by hand (they yield what they wait for, so
``send(None)`` is a wake-up), and ``impl.serving``'s helpers are called
directly, on real loopback sockets.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from impl import blocking_echo, select_echo, serving
from impl.select_echo import Wait


def pair():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    return ours, theirs


def test_select_echo_accepts_again_after_a_wake_up_with_nothing_to_accept():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        task = select_echo.accept_connections(listener, select_echo.Loop(listener))
        assert next(task) is Wait.READABLE
        assert task.send(None) is Wait.READABLE  # no connection was there: wait again
        task.close()


def test_select_echo_logs_a_failed_accept_and_goes_on_listening(caplog):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    task = select_echo.accept_connections(listener, select_echo.Loop(listener))
    assert next(task) is Wait.READABLE
    listener.close()  # accept() now fails with EBADF, as it would with EMFILE
    with caplog.at_level(logging.WARNING, logger="impl.select_echo"):
        assert task.send(None) is Wait.READABLE
    task.close()
    assert [record.getMessage()[:13] for record in caplog.records] == ["accept failed"]


def test_select_echo_reads_again_after_a_wake_up_with_nothing_to_read(caplog):
    ours, theirs = pair()
    with theirs:
        task = select_echo.echo_connection(ours, "peer")
        assert next(task) is Wait.READABLE
        assert task.send(None) is Wait.READABLE  # nothing to read yet: wait again
        theirs.sendall(b"hello")
        theirs.shutdown(socket.SHUT_WR)
        with caplog.at_level(logging.INFO, logger="impl.select_echo"):
            for _ in range(10):  # read, send, read EOF, FIN: a few wake-ups at most
                try:
                    task.send(None)
                except StopIteration:
                    break
            else:
                pytest.fail("the connection task did not finish after the client's FIN")
        assert theirs.recv(100) == b"hello"
        assert theirs.recv(100) == b""  # the FIN
    assert ours.fileno() == -1
    assert [record.getMessage() for record in caplog.records] == ["peer: echoed 5 bytes, then FIN"]


def test_select_echo_closing_the_loop_closes_every_connection():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        loop = select_echo.Loop(listener)
        connections = [pair() for _ in range(3)]
        # Held here, so that only close_all() can finish them (not the garbage collector).
        tasks = [select_echo.echo_connection(ours, "peer") for ours, _ in connections]
        for (ours, _), task in zip(connections, tasks, strict=True):
            loop.spawn(ours, task)
        loop.close_all()
        assert [ours.fileno() for ours, _ in connections] == [-1, -1, -1]
        assert (loop.tasks, loop.waits) == ({}, {})
        for _, theirs in connections:
            with theirs:
                assert theirs.recv(1) == b""


def test_blocking_echo_echoes_until_the_clients_fin_and_counts_the_bytes():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"hello, world")
        theirs.shutdown(socket.SHUT_WR)
        assert blocking_echo.echo_until_eof(ours) == 12
        assert theirs.recv(100) == b"hello, world"
        assert theirs.recv(100) == b""


def test_serving_requires_a_port(capsys):
    with pytest.raises(SystemExit) as exit:
        serving.parse_arguments("prog", "An echo server.", [])
    assert exit.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_serving_logs_nowhere_unless_verbose(caplog, capsys):
    quiet = logging.getLogger("tests.quiet_server")
    serving.configure_logging(quiet, verbose=False)
    with caplog.at_level(logging.INFO):  # caplog listens at the root: nothing may reach it
        quiet.warning("for nobody")
    assert caplog.records == []
    assert capsys.readouterr() == ("", "")


def test_serving_logs_info_lines_to_stderr_when_verbose(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        serving.configure_logging(logging.getLogger("tests.verbose_server"), verbose=True)
        logging.getLogger("tests.verbose_server").info("connected")
        assert capsys.readouterr() == ("", "connected\n")
    finally:
        root.handlers, level = saved
        root.setLevel(level)


def open_descriptors():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_serving_closes_the_socket_of_a_listener_that_cannot_bind():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        before = open_descriptors()
        with pytest.raises(OSError, match="in use"):
            serving.open_listener("127.0.0.1", taken.getsockname()[1])
        assert open_descriptors() == before


def test_serving_rebinds_a_port_that_a_closed_connection_keeps_in_time_wait():
    with serving.open_listener("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn, _ = listener.accept()
        conn.close()  # the server's side closes first, so it is the one in TIME_WAIT
        with client:
            assert client.recv(1) == b""
    with serving.open_listener("127.0.0.1", port) as again:
        assert again.getsockname()[1] == port


def test_serving_announces_an_ipv6_listener_as_host_colon_port(capsys):
    try:
        listener = serving.open_listener("::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with listener:
        serving.announce(listener)
        assert capsys.readouterr().out == f"listening on ::1:{listener.getsockname()[1]}\n"
