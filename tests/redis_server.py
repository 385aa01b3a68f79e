"""A real ``redis-server`` for the tests, on a free loopback port, started and stopped by them.

Nothing here fakes Redis: the tests that use it talk to the server a user
would run. When ``redis-server`` is not on PATH (``.ci/run`` installs Debian's
package when it can) or the ``redis`` package is missing (the ``redis`` extra),
they skip and say why. The server keeps nothing on disk, listens on
127.0.0.1 only, and never on Redis's usual port 6379, so that a system
Redis, if one is running, is never touched.
"""

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from echofuzz.engine.targets import free_port

#: How long a fresh server may take to answer PING, and how long it may take to stop.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
#: Ports to try, in case another process takes the free port before redis-server binds it.
PORT_TRIES = 3


def require_redis_package():
    """The ``redis`` module, or a skip that says how to install it."""
    return pytest.importorskip(
        "redis", reason="the redis package is missing: pip install 'demystify-async[redis]'"
    )


def require_redis_server():
    """The path of ``redis-server``, or a skip that says how to install it."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not on PATH: apt-get install redis-server (as .ci/run does)")
    return path


def stop(server):
    """SIGTERM, a bounded wait, then SIGKILL and another bounded wait."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(STOP_TIMEOUT)


def answers_ping(redis, url, server):
    """Poll until the server answers PING (True), exits (False), or START_TIMEOUT passes."""
    give_up = time.monotonic() + START_TIMEOUT
    while time.monotonic() < give_up and server.poll() is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        try:
            if client.ping() is True:
                return True
        except redis.ConnectionError:
            time.sleep(0.05)
        finally:
            client.close()
    return False


@contextlib.contextmanager
def running_redis(directory):
    """Start ``redis-server`` in ``directory``; yield its ``redis://`` URL; stop it."""
    redis = require_redis_package()
    executable = require_redis_server()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(PORT_TRIES):
        port = free_port()
        url = f"redis://127.0.0.1:{port}"
        log = directory / f"redis-{attempt}.log"
        argv = [
            executable,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(directory),
            "--logfile", str(log),
        ]  # fmt: skip
        server = subprocess.Popen(
            argv, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            if answers_ping(redis, url, server):
                yield url
                return
        finally:
            stop(server)
    logs = "\n".join(p.read_text() for p in sorted(directory.glob("redis-*.log")))
    pytest.fail(f"redis-server did not answer PING in {PORT_TRIES} tries:\n{logs}")
