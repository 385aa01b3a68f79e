"""``--database redis://``, as a user would use it: against a real ``redis-server``.

The server is started by the tests on a free loopback port and stopped
afterwards (see ``tests/redis_server.py``); they skip, saying why, when
``redis-server`` or the ``redis`` package cannot be had. A campaign stores
its failure there and the next campaign replays it first. Bad Redis URLs
(nothing listening, something listening that is not Redis) are one line and
exit status 2, like every other unusable option.
"""

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from echofuzz.engine.databases import REDIS_PREFIX, close_database, open_database
from echofuzz.engine.targets import free_port, wait_until_accepting
from tests.redis_server import require_redis_package, running_redis

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
#: Fails on any payload with a 0x0d byte, whatever the timing. Unlike a server that
#: fails on every test case, a fresh campaign meets its bug only some test cases in,
#: so a failure on the very first one shows that the database's entry was replayed.
NEWLINES = shlex.join([PY, str(CORPUS / "asyncio_protocol_universal_newlines.py"), "--port"])
CAMPAIGN = ["--deadline", "0.5", "--max-examples", "30", "--no-shrink", "--seed", "14"]
#: Never contacted: every bad --database fails before the target is.
ADDRESS = "127.0.0.1:7000"


@pytest.fixture
def redis_url(tmp_path):
    with running_redis(tmp_path / "redis") as url:
        yield url


def echofuzz(*args, cwd, timeout=60.0):
    # Hypothesis's caches beside cwd, not in ~/.cache (as in test_echofuzz_cli.py).
    env = {**os.environ, "XDG_CACHE_HOME": str(Path(cwd).parent / "xdg-cache")}
    return subprocess.run(
        [PY, "-m", "echofuzz", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


def read_report(path):
    return json.loads(Path(path).read_text())


def test_a_campaign_stores_its_failure_in_redis_and_the_next_one_replays_it_first(
    redis_url, tmp_path
):
    redis = require_redis_package()
    common = ["--spawn", NEWLINES + " {port}", "--database", redis_url, *CAMPAIGN]
    first = echofuzz(*common, "--report", "1.json", cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    found = read_report(tmp_path / "1.json")
    assert found["first_failure_example"] > 1, "without a replay, this seed fails later"

    client = redis.Redis.from_url(redis_url, socket_timeout=5.0)
    try:
        keys = client.keys("*")
    finally:
        client.close()
    assert keys, "the failure was not stored in Redis"
    assert all(key.startswith(REDIS_PREFIX) for key in keys), keys

    again = echofuzz(*common, "--report", "2.json", cwd=tmp_path)  # the same seed
    assert again.returncode == 1, again.stdout + again.stderr
    replayed = read_report(tmp_path / "2.json")
    assert replayed["first_failure_example"] == 1
    assert replayed["reproduction"] == found["reproduction"], (found["reason"], replayed["reason"])


def assert_one_line_error(done, url, says):
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("echofuzz: error: "), lines
    assert url in lines[0] and says in lines[0], lines


def test_a_redis_url_where_nothing_listens_is_exit_status_2_with_one_line(tmp_path):
    require_redis_package()
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{bound.getsockname()[1]}"
        started = time.monotonic()
        done = echofuzz("--database", url, ADDRESS, cwd=tmp_path, timeout=30)
    assert_one_line_error(done, url, "cannot reach the example database")
    assert time.monotonic() - started < 10


@contextlib.contextmanager
def spawned(command):
    """A server command with {port}, run on a free port until the block ends."""
    port = free_port()
    argv = [word.replace("{port}", str(port)) for word in shlex.split(command)]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            assert wait_until_accepting(("127.0.0.1", port), 10.0), "the server did not start"
            yield port
        finally:
            server.terminate()
            server.wait(10)


@contextlib.contextmanager
def silent():
    """Listening but never accepting: the kernel completes connections, nobody answers."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening.getsockname()[1]


ECHO = shlex.join([PY, str(CORPUS / "correct_threads.py"), "--port"]) + " {port}"
#: Answers anything with an HTTP/1.1 status line, as web servers do to a bad request.
HTTP_11 = shlex.join([PY, "-c", (
    "import socket, sys\n"
    "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
    "while True:\n"
    "    c, _ = s.accept()\n"
    "    c.recv(4096)\n"
    "    c.sendall(b'HTTP/1.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n')\n"
    "    c.close()\n"
)]) + " {port}"  # fmt: skip
#: Python's own answers a bad request in HTTP/0.9 style: HTML with no CRLF, then it hangs
#: up, which is all the Redis client sees (as it would of a Redis that hung up).
HTTP_SERVER = shlex.join([PY, "-m", "http.server", "--bind", "127.0.0.1"]) + " {port}"
NOT_REDIS = {
    "an echo server": (lambda: spawned(ECHO), "is not a Redis server"),
    "an HTTP/1.1 server": (lambda: spawned(HTTP_11), "is not a Redis server"),
    "python -m http.server": (lambda: spawned(HTTP_SERVER), "Connection closed by server"),
    "a server that never answers": (silent, "Timeout"),
}


@pytest.mark.parametrize(("server", "says"), list(NOT_REDIS.values()), ids=list(NOT_REDIS))
def test_a_redis_url_at_a_server_that_is_not_redis_is_exit_status_2_with_one_line(
    server, says, tmp_path
):
    require_redis_package()
    with server() as port:
        url = f"redis://127.0.0.1:{port}"
        started = time.monotonic()
        done = echofuzz("--database", url, ADDRESS, cwd=tmp_path, timeout=30)
    assert_one_line_error(done, url, says)
    assert time.monotonic() - started < 10


def test_a_redis_that_goes_away_mid_run_is_warned_of_once_and_the_run_goes_on(tmp_path, capsys):
    require_redis_package()
    with running_redis(tmp_path / "redis") as url:
        database = open_database(url)
        database.save(b"key", b"a failure")
        assert list(database.fetch(b"key")) == [b"a failure"]
    # The server is gone now (running_redis stopped it): nothing raises, one warning says so.
    try:
        database.save(b"key", b"another failure")
        assert list(database.fetch(b"key")) == []
        database.delete(b"key", b"a failure")
        database.move(b"key", b"other", b"a failure")
    finally:
        close_database(database)
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"echofuzz: warning: the example database at {url} stopped")
    assert "what it finds from now on is not stored there" in warnings[0]
