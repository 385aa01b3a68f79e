"""The pytest plugin: inert by default, a fuzzing item on request, shards under xdist, fixtures.

Runs of pytest with the plugin's options happen in a subprocess, in a scratch
directory, exactly as a user would start them; the plugin arrives through its
``pytest11`` entry point, not through anything in this repository. The fixtures
are used directly here, since this test run has the plugin loaded too.
"""

import contextlib
import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from echofuzz.engine.targets import SpawnedTarget, free_port, wait_until_accepting
from echofuzz.vocabulary import Payload, Step

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CORRECT_SERVER = ROOT / "tests" / "corpus" / "correct_threads.py"
TWICE_SERVER = ROOT / "tests" / "corpus" / "threads_peeked_first_chunk_echoed_twice.py"
CORRECT = shlex.join([PY, str(CORRECT_SERVER), "--port"]) + " {port}"
ARTICLE = shlex.join([PY, "-u", str(ROOT / "impl" / "article" / "select_server.py")]) + " {port}"
QUICK = ["--echo-deadline", "0.5"]

A_TEST = "def test_something_else():\n    assert True\n"


#: A project configured like this one: pytest-trio's trio mode looks at every item.
PYTEST_INI = "[pytest]\ntrio_mode = true\nfilterwarnings = error\n"


def run_pytest(where, *args, timeout=120.0):
    (where / "test_other.py").write_text(A_TEST)
    (where / "pytest.ini").write_text(PYTEST_INI)
    return subprocess.run(
        [PY, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", *args],
        capture_output=True,
        text=True,
        cwd=where,
        timeout=timeout,
    )


@contextlib.contextmanager
def serving(server_path):
    port = free_port()
    argv = [PY, str(server_path), "--port", str(port)]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            assert wait_until_accepting(("127.0.0.1", port), 10.0)
            yield ("127.0.0.1", port)
        finally:
            server.terminate()
            server.wait(10)


def test_without_echo_options_the_plugin_adds_no_test_and_no_warning(tmp_path):
    done = run_pytest(tmp_path, "-rA")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "echofuzz" not in done.stdout.lower() and "warning" not in done.stdout.lower()
    helped = run_pytest(tmp_path, "--help")
    assert "--echo-spawn" in helped.stdout  # loaded all the same, through its entry point


#: A conftest that reports, at the end of the run, which of echofuzz's engine modules that bring
#: in trio or Hypothesis were loaded (the targets and the cause-of-death reader are stdlib only).
RECORDING_CONFTEST = """
import sys

HEAVY = {"campaign", "executor", "client", "oracle", "portal", "machine", "replay", "databases"}

def pytest_unconfigure(config):
    heavy = sorted(m for m in sys.modules if m.removeprefix("echofuzz.engine.") in HEAVY)
    print("echofuzz engine modules loaded:", heavy)
"""


def test_without_echo_options_the_plugin_imports_none_of_the_engine(tmp_path):
    (tmp_path / "conftest.py").write_text(RECORDING_CONFTEST)
    done = run_pytest(tmp_path, "-q", "-s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "echofuzz engine modules loaded: []" in done.stdout, done.stdout


def test_echo_spawn_adds_one_item_that_passes_on_a_correct_server_and_k_selects_it(tmp_path):
    done = run_pytest(
        tmp_path,
        "--echo-spawn",
        CORRECT,
        "--echo-max-examples",
        "4",
        *QUICK,
        "-k",
        "echofuzz",
        "-rA",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 deselected" in done.stdout
    assert "PASSED echofuzz::campaign" in done.stdout
    assert "no divergence" in done.stdout  # the summary, shown with -rA
    assert "rerun: echofuzz --seed" in done.stdout


def test_echo_spawn_fails_on_a_broken_server_with_the_minimal_sequence_and_a_script(tmp_path):
    done = run_pytest(
        tmp_path,
        "--echo-spawn",
        ARTICLE,
        "--echo-seed",
        "3",
        "--echo-max-examples",
        "30",
        "--echo-max-bugs",
        "1",
        *QUICK,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "FAILED echofuzz::campaign" in done.stdout
    assert "minimal reproduction" in done.stdout and "  1. " in done.stdout
    assert "Traceback" not in done.stdout
    assert (tmp_path / "echofuzz-repro.py").exists()


def test_under_xdist_each_worker_fuzzes_a_shard_with_its_own_seed_sharing_one_database(tmp_path):
    done = run_pytest(
        tmp_path, "-n", "2", "--echo-spawn", ARTICLE, "--echo-seed", "10",
        "--echo-max-examples", "30", "--echo-max-bugs", "1", *QUICK,
        "--echo-database", "db", "--echo-report", "r.json",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED echofuzz::shard0" in done.stdout and "FAILED echofuzz::shard1" in done.stdout
    reports = [json.loads((tmp_path / f"r-{shard}.json").read_text()) for shard in (0, 1)]
    assert [report["seed"] for report in reports] == [10, 11]
    assert all(report["verdict"] == "fail" for report in reports)
    assert any((tmp_path / "db").iterdir()), "the shards saved nothing in the shared database"
    assert (tmp_path / "echofuzz-repro-0.py").exists() and (
        tmp_path / "echofuzz-repro-1.py"
    ).exists()


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--echo-target", "nonsense"], "expected HOST:PORT"),
        (["--echo-target", "127.0.0.1:7000", "--echo-spawn", CORRECT], "not both"),
        (["--echo-spawn", "python server.py"], "{port}"),
        (["--echo-target", "127.0.0.1:7000", "--echo-max-examples", "-1"], "at least 1"),
    ],
    ids=["bad address", "both", "no {port}", "negative examples"],
)
def test_bad_echo_options_are_a_usage_error(tmp_path, options, says):
    done = run_pytest(tmp_path, *options)
    assert done.returncode == 4, done.stdout + done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_target_fails_the_item_with_one_line_and_no_traceback(tmp_path):
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{bound.getsockname()[1]}"
        done = run_pytest(tmp_path, "--echo-target", address, "-k", "echofuzz")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"echofuzz: error: cannot connect to {address}" in done.stdout
    assert "Traceback" not in done.stdout


# -- the fixtures, used as a user would ------------------------------------------------


def test_the_echo_oracle_fixture_is_a_running_echo_server(echo_oracle):
    with socket.create_connection(echo_oracle, timeout=5) as client:
        client.sendall(b"ping")
        client.shutdown(socket.SHUT_WR)
        echoed = b""
        while chunk := client.recv(100):
            echoed += chunk
    assert echoed == b"ping"


def test_the_echo_executor_fixture_compares_a_server_with_the_oracle_step_by_step(echo_executor):
    steps = [
        Step("connect", conn="c1"),
        Step("send", conn="c1", payload=Payload.literal(b"x")),
        Step("half_close", conn="c1"),
    ]
    with serving(CORRECT_SERVER) as address:
        run = echo_executor(address, deadline=0.5)
        assert [run.execute(step) for step in steps] == [[], [], []]
    with serving(TWICE_SERVER) as address:
        run = echo_executor(address, deadline=0.5)
        problems = [problem for step in steps for problem in run.execute(step)]
    assert problems, "the server that echoes its first chunk twice went unnoticed"


def test_the_echo_campaign_fixture_runs_a_whole_campaign_on_a_target_or_an_address(
    echo_campaign,
):
    result = echo_campaign(SpawnedTarget(CORRECT), max_examples=3, deadline=0.5, seed=1)
    assert result.verdict == "pass", result.reason
    with serving(TWICE_SERVER) as (host, port):
        result = echo_campaign(f"{host}:{port}", max_examples=10, deadline=0.5, seed=1)
    assert result.verdict == "fail"
