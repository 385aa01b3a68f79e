"""A spawned server's start and death, as ``SpawnedTarget`` sees them: real processes, real ports.

Two things a campaign relies on and a busy machine tests hard: a port that
another process took between ``free_port`` and the server's ``bind`` is not
mistaken for the server listening, and after a failure the wait for a crash
ends as soon as the server is seen idle rather than after the whole grace.
"""

import shlex
import socket
import sys
import time

import pytest

from echofuzz.engine import targets
from echofuzz.engine.replay import DEATH_GRACE
from echofuzz.engine.targets import SpawnedTarget, listening_sockets

PY = sys.executable
#: A correct server that binds the port it is given.
SELECT_ECHO = [PY, "-m", "impl.select_echo", "--port", "{port}"]
#: Dies a moment after it is told to, as a crashing server does after its traceback.
DIES_ON_A_LINE = [
    PY,
    "-c",
    "import socket,sys,time\n"
    "s=socket.create_server(('127.0.0.1',int(sys.argv[1])))\n"
    "c,_=s.accept()\n"
    "c.recv(10)\n"
    "c.close()\n"
    "sum(range(3_000_000))\n"  # busy dying: a traceback, handlers, the exit
    "sys.exit(3)\n",
    "{port}",
]

needs_proc = pytest.mark.skipif(listening_sockets() is None, reason="needs /proc/net/tcp")


@needs_proc
def test_a_port_taken_by_another_process_is_not_taken_for_the_server_listening(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        handed_out = []
        real_free_port = targets.free_port

        def first_the_taken_port(host="127.0.0.1"):
            handed_out.append(taken if not handed_out else real_free_port(host))
            return handed_out[-1]

        monkeypatch.setattr(targets, "free_port", first_the_taken_port)
        target = SpawnedTarget(shlex.join(SELECT_ECHO), startup_timeout=10.0)
        target.start()
        try:
            # The first copy died of EADDRINUSE; the second got a port of its own.
            assert len(handed_out) == 2, handed_out
            host, port = target.address()
            assert port != taken
            with socket.create_connection((host, port), timeout=5.0) as conn:
                conn.sendall(b"mine\n")
                assert conn.recv(16) == b"mine\n"
        finally:
            target.stop()


@needs_proc
def test_the_wait_for_an_exit_ends_early_when_the_server_sits_idle():
    target = SpawnedTarget(shlex.join(SELECT_ECHO), startup_timeout=10.0)
    target.start()
    try:
        began = time.monotonic()
        assert target.death_notice(grace=DEATH_GRACE) is None
        waited = time.monotonic() - began
        # Idle servers are told apart in a few looks, not after the whole grace.
        assert waited < DEATH_GRACE, waited
    finally:
        target.stop()


def test_a_server_busy_dying_is_waited_for_and_its_exit_reported():
    target = SpawnedTarget(shlex.join(DIES_ON_A_LINE), startup_timeout=10.0)
    target.start()
    try:
        with socket.create_connection(target.address(), timeout=5.0) as conn:
            conn.sendall(b"bye\n")
            assert conn.recv(16) == b""  # closed: the server is on its way out
        notice = target.death_notice(grace=10.0)
        assert notice is not None and notice.startswith("exited with status 3"), notice
    finally:
        target.stop()


#: Listens through a child in a session of its own (as a container's port forwarder does),
#: and takes the child down with it when stopped.
LISTENS_THROUGH_A_DETACHED_CHILD = [
    PY,
    "-c",
    "import signal,subprocess,sys,time\n"
    "child=subprocess.Popen([sys.executable,'-m','impl.select_echo','--port',sys.argv[1]],"
    "start_new_session=True)\n"
    "def stop(*_):\n"
    "    child.kill(); child.wait(); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "time.sleep(60)\n"
    "stop()\n",
    "{port}",
]


@needs_proc
def test_a_server_whose_listener_another_session_holds_is_still_taken_as_ready():
    target = SpawnedTarget(shlex.join(LISTENS_THROUGH_A_DETACHED_CHILD), startup_timeout=10.0)
    began = time.monotonic()
    target.start()
    try:
        assert time.monotonic() - began >= targets.FOREIGN_LISTENER_GRACE
        with socket.create_connection(target.address(), timeout=5.0) as conn:
            conn.sendall(b"through the child\n")
            assert conn.recv(64) == b"through the child\n"
    finally:
        target.stop()
