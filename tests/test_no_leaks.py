"""A campaign leaves nothing behind: no process, no thread, no open socket or pipe.

echofuzz is meant to run inside other programs' test suites (the pytest plugin)
and in long CI jobs, so whatever it starts it must also end: the server it
spawned and that server's children, the trio thread, the output drains, every
client socket. Each test counts those before and after, in this process.
"""

import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from echofuzz.engine.campaign import Campaign
from echofuzz.engine.replay import replay_once
from echofuzz.engine.targets import SpawnedTarget, TargetError
from echofuzz.frontends.interrupts import InterruptGuard, run_guarded
from echofuzz.options import FuzzOptions
from echofuzz.vocabulary import Payload, Step

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CORRECT_SERVER = ROOT / "tests" / "corpus" / "correct_threads.py"
CORRECT = shlex.join([PY, str(CORRECT_SERVER), "--port"]) + " {port}"
SELECT_ECHO = shlex.join([PY, "-m", "impl.select_echo", "--port"]) + " {port}"
ARTICLE = shlex.join([PY, "-u", str(ROOT / "impl" / "article" / "select_server.py")]) + " {port}"
TWICE_SERVER = ROOT / "tests" / "corpus" / "threads_peeked_first_chunk_echoed_twice.py"
TWICE = shlex.join([PY, str(TWICE_SERVER), "--port"]) + " {port}"
SMALL = {"max_examples": 8, "seed": 2, "deadline": 0.5, "max_payload": 1 << 18}


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def children():
    """Our child processes, zombies included: an unreaped child is a leak too."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            found.add(int(entry.name))
    return found


def running(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Baseline:
    """Threads, descriptors and children now, to compare with after the run."""

    def __init__(self):
        self.threads = threading.active_count()
        self.fds = open_fds()
        self.children = children()

    def assert_restored(self):
        assert threading.active_count() == self.threads, threading.enumerate()
        assert open_fds() == self.fds, sorted(os.listdir("/proc/self/fd"))
        assert children() == self.children


@pytest.mark.parametrize("command", [CORRECT, SELECT_ECHO], ids=["threads", "select_echo"])
def test_a_passing_campaign_leaves_no_process_thread_or_socket_behind(command):
    before = Baseline()
    result = Campaign(SpawnedTarget(command), FuzzOptions(**SMALL)).run()
    assert result.verdict == "pass", result.reason
    before.assert_restored()


def test_a_failing_campaign_that_restarts_its_server_many_times_leaves_nothing_behind():
    before = Baseline()
    result = Campaign(SpawnedTarget(ARTICLE), FuzzOptions(**SMALL)).run()
    assert result.verdict == "fail"
    assert result.restarts >= 1
    before.assert_restored()


def test_a_server_is_stopped_together_with_the_processes_it_started(tmp_path):
    pids = tmp_path / "pids"
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import os, subprocess, sys\n"
        f"server = {str(CORRECT_SERVER)!r}\n"
        "child = subprocess.Popen([sys.executable, server, '--port', sys.argv[2]])\n"
        "with open(sys.argv[1], 'w') as f:\n"
        "    f.write(f'{os.getpid()} {child.pid}')\n"
        "child.wait()\n"
    )
    before = Baseline()
    command = shlex.join([PY, str(parent), str(pids)]) + " {port}"
    result = Campaign(SpawnedTarget(command), FuzzOptions(**{**SMALL, "max_examples": 2})).run()
    assert result.verdict == "pass", result.reason
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    assert not [pid for pid in started if running(pid)]
    before.assert_restored()


GREETING = (
    "import socket, sys\n"
    "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
    "while True:\n"
    "    c, _ = s.accept()\n"
    "    c.sendall(b'hello\\n')\n"
    "    c.close()\n"
)
UNUSABLE = {
    "exits at once": shlex.join([PY, "-c", "raise SystemExit(3)"]) + " {port}",
    "never listens": shlex.join([PY, "-c", "import time; time.sleep(60)"]) + " {port}",
    "does not exist": "no-such-program-echofuzz {port}",
    "does not echo": shlex.join([PY, "-c", GREETING]) + " {port}",
}


@pytest.mark.parametrize("command", list(UNUSABLE.values()), ids=list(UNUSABLE))
def test_a_target_that_cannot_be_used_leaves_nothing_behind(command):
    before = Baseline()
    started = time.monotonic()
    with pytest.raises(TargetError):
        Campaign(SpawnedTarget(command, startup_timeout=0.5), FuzzOptions(**SMALL)).run()
    assert time.monotonic() - started < 5
    before.assert_restored()


def test_a_differential_replay_leaves_nothing_behind():
    steps = [
        Step("connect", conn="c1"),
        Step("send", conn="c1", payload=Payload.literal(b"hello")),
        Step("half_close", conn="c1"),
        Step("finish"),
    ]
    before = Baseline()
    assert replay_once(SpawnedTarget(CORRECT), steps, deadline=0.5) is None
    problem = replay_once(SpawnedTarget(TWICE), steps, deadline=0.5)
    assert problem is not None and "c1" in problem
    before.assert_restored()


def test_an_interrupted_campaign_stops_at_a_step_boundary_and_leaves_nothing_behind():
    before = Baseline()
    guard = InterruptGuard()
    interrupt = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    with guard.installed():
        interrupt.start()
        options = FuzzOptions(**{**SMALL, "max_examples": 100_000})
        result = run_guarded(SpawnedTarget(CORRECT), options, guard)
    interrupt.join()
    assert result.verdict == "interrupted"
    assert result.examples >= 1
    assert guard.exit_status == 130
    before.assert_restored()
