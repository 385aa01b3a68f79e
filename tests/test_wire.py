"""The reproduction script and the fuzzer agree: same payloads, same probe, same verdicts.

The script is ``echofuzz.model`` and ``echofuzz.wire`` inlined; these tests run
it as its users will (a file, the standard library only, no echofuzz anywhere on
its path) and hold it to the differential executor's verdicts on the same steps
against the same servers, correct and broken.
"""

import socket
import subprocess
import sys
import time

import pytest

from echofuzz import wire
from echofuzz.engine import executor
from echofuzz.engine.replay import replay_once
from echofuzz.engine.targets import SpawnedTarget
from echofuzz.outputs.script import module_body, script_source, write_script
from echofuzz.vocabulary import Payload, Step
from tests.echo_targets import CORPUS, corpus_command

EVERY_BYTE = bytes(range(256))
#: Steps that any of the servers below gets wrong, whatever the timing.
STEPS = [
    Step("connect", conn="c1"),
    Step("send", conn="c1", payload=Payload.literal(b"line one\r\nline two\r\n" + EVERY_BYTE)),
    Step("expect", conn="c1"),
    Step("connect", conn="c2"),
    Step("send", conn="c2", payload=Payload.generated(70_000, seed=4)),
    Step("half_close", conn="c2"),
    Step("half_close", conn="c1"),
    Step("finish"),
]
#: Server, and whether the steps above show it to be broken.
SERVERS = {
    "correct_threads": False,
    "correct_trio": False,
    "threads_peeked_first_chunk_echoed_twice": True,
    "trio_drops_telnet_iac_bytes": True,
    "asyncio_protocol_universal_newlines": True,
    "trio_resets_instead_of_fin": True,
    "asyncio_protocol_never_closes_after_eof": True,
}


def test_the_fuzzer_and_the_script_send_the_same_probe_and_the_same_bytes():
    assert executor.PROBE is wire.PROBE
    payload = Payload.generated(1000, seed=9, salt="c3")
    assert payload.materialize("c1") == wire.payload_bytes(payload.to_json(), "c1")


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """The script for STEPS, written where nothing of ours can be imported from."""
    path = tmp_path_factory.mktemp("alone") / "repro.py"
    write_script(path, script_source(STEPS, deadline=1.0, comment=["a test"]))
    return path


def run_script(script, address):
    """``python -I -S``: no site-packages, no PYTHONPATH, so no echofuzz, trio or Hypothesis."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script), f"{address[0]}:{address[1]}"],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=60,
    )


def test_the_script_runs_with_the_standard_library_alone(script):
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script), "--help"],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "HOST:PORT" in done.stdout


@pytest.mark.parametrize(("server", "broken"), list(SERVERS.items()), ids=list(SERVERS))
def test_the_script_and_the_differential_replay_give_the_same_verdict(script, server, broken):
    command = corpus_command(CORPUS / f"{server}.py")
    differential = replay_once(SpawnedTarget(command), STEPS, deadline=1.0)
    assert (differential is not None) == broken, differential
    target = SpawnedTarget(command)
    target.start()
    try:
        done = run_script(script, target.address())
    finally:
        target.stop()
    assert done.returncode == (1 if broken else 0), done.stdout + done.stderr
    assert done.stdout.startswith("reproduced: " if broken else "did not reproduce"), done.stdout


def test_the_script_refuses_a_deadline_that_is_not_a_positive_number(script):
    for bad in ("0", "-1", "inf", "nan"):
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(script), "127.0.0.1:9", "--deadline", bad],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert done.stderr.startswith("error: the deadline"), done.stderr


def test_a_module_that_could_not_be_inlined_is_refused(tmp_path):
    borrowed = tmp_path / "borrowed.py"
    borrowed.write_text("from __future__ import annotations\n\nimport trio\n")
    module = type(sys)("borrowed")
    module.__file__ = str(borrowed)
    with pytest.raises(RuntimeError, match="imports trio"):
        module_body(module)


def test_the_written_script_is_executable_and_says_what_found_it(script):
    assert script.stat().st_mode & 0o111
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env python3\n")
    assert "# a test\n" in text
    assert "echofuzz." not in "".join(
        line for line in text.splitlines() if line.startswith(("import", "from"))
    )


def loopback_pair(buffers=0):
    """A connected (client, server) pair; ``buffers`` shrinks the server's receive buffer."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        if buffers:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
        client = socket.create_connection(listener.getsockname(), timeout=5.0)
        server, _ = listener.accept()
    return client, server


def kernel_shows_queues():
    with socket.socket() as sock:
        return wire.kernel_queues(sock) is not None


needs_queues = pytest.mark.skipif(
    not kernel_shows_queues(), reason="the kernel does not show its queues"
)


def until(condition):
    for _ in range(500):  # loopback delivers at once; bounded all the same
        if condition():
            return True
        time.sleep(0.002)
    return condition()


@needs_queues
def test_the_kernel_queues_show_what_waits_unread_on_a_connection():
    client, server = loopback_pair()
    with client, server:
        assert wire.kernel_queues(client) == (0, 0)
        server.sendall(b"x" * 100)
        assert until(lambda: wire.kernel_queues(client)[0] == 100)


def rest_after(watch, written, start):
    """How long after ``start``, looking every millisecond, the watch says "at rest"."""
    now = start
    while watch.pause(written, now) is not None and now < start + 1.0:
        now += 0.001
    return now - start


@needs_queues
def test_back_pressure_is_felt_soon_once_the_server_is_seen_to_read_and_then_stop():
    client, server = loopback_pair(buffers=4096)
    with client, server:
        client.sendall(b"x" * 100)
        assert until(lambda: wire.peer_queues(client) == (100, 0))
        # Not a byte read yet: the server may not have been scheduled, so the long quiet.
        untouched = rest_after(wire.BackPressureWatch(client, now=0.0), 100, 0.0)
        assert untouched >= wire.BACK_PRESSURE_QUIET
        # Some read but nothing echoed yet: it may be about to echo, so the long quiet.
        assert len(server.recv(40)) == 40
        assert until(lambda: wire.peer_queues(client) == (60, 0))
        unechoed = rest_after(wire.BackPressureWatch(client, now=0.0), 100, 0.0)
        assert unechoed >= wire.BACK_PRESSURE_QUIET
        # Some read and echoed, the rest left: it stopped reading, and two looks show it.
        server.sendall(b"x" * 40)
        assert until(lambda: wire.kernel_queues(client)[0] == 40)
        stopped = rest_after(wire.BackPressureWatch(client, now=0.0), 100, 0.0)
        assert stopped < wire.BACK_PRESSURE_QUIET
        assert stopped >= 2 * wire.BACK_PRESSURE_AT_REST
        # Everything read and echoed: the same two looks.
        assert len(server.recv(100)) == 60
        server.sendall(b"x" * 60)
        assert until(lambda: wire.peer_queues(client) == (0, 0))
        done = rest_after(wire.BackPressureWatch(client, now=0.0), 100, 0.0)
        assert 2 * wire.BACK_PRESSURE_AT_REST <= done < wire.BACK_PRESSURE_QUIET


@needs_queues
def test_back_pressure_is_felt_soon_when_echo_waits_here_and_our_bytes_stay_unsent():
    client, server = loopback_pair(buffers=4096)
    with client, server:
        server.sendall(b"echo")
        assert until(lambda: wire.kernel_queues(client)[0] == 4)
        client.setblocking(False)
        written = 0
        for _ in range(100_000):  # until the kernel takes no more
            try:
                written += client.send(b"y" * 65536)
            except BlockingIOError:
                break
        assert until(lambda: wire.kernel_queues(client)[1] > 0)
        watch = wire.BackPressureWatch(client, now=0.0)
        soon = wire.BACK_PRESSURE_AT_REST
        assert watch.pause(written, now=0.0) is not None
        # Our own progress restarts the stillness.
        assert watch.pause(written + 1, now=soon) is not None
        assert watch.pause(written + 1, now=1.5 * soon) is not None
        assert watch.pause(written + 1, now=2 * soon) is None
