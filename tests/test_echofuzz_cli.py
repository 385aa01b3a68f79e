"""The echofuzz command line: exit statuses, reports, reproductions, seeds, and bad invocations.

The command is run as users run it, in a subprocess (``python -m echofuzz``,
and once through the installed ``echofuzz`` script), against servers it spawns.
Bad command lines that never start a server are also run in-process through
``cli.main``, which is the same code without the cost of a new interpreter each.
"""

import contextlib
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from echofuzz.engine.targets import free_port, wait_until_accepting
from echofuzz.frontends import cli

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
CORRECT_SERVER = CORPUS / "correct_threads.py"
ARTICLE_SERVER = ROOT / "impl" / "article" / "select_server.py"
HISTORY_SERVER = CORPUS / "asyncio_streams_leaks_slots_after_ten.py"
#: A broken server whose bug shows every time, whatever the timing: the first chunk twice.
TWICE_SERVER = CORPUS / "threads_peeked_first_chunk_echoed_twice.py"

CORRECT = shlex.join([PY, str(CORRECT_SERVER), "--port"]) + " {port}"
SELECT_ECHO = shlex.join([PY, "-m", "impl.select_echo", "--port"]) + " {port}"
ARTICLE = shlex.join([PY, "-u", str(ARTICLE_SERVER)]) + " {port}"
TWICE = shlex.join([PY, str(TWICE_SERVER), "--port"]) + " {port}"
QUICK = ["--deadline", "0.5"]

REPORT_KEYS = {
    "verdict",
    "examples",
    "steps",
    "elapsed_s",
    "first_failure_s",
    "reproduction",
    "reason",
    "seed",
    "target",
}


def cache_beside(cwd):
    """An environment that puts Hypothesis's caches beside ``cwd``, not in ~/.cache."""
    return {**os.environ, "XDG_CACHE_HOME": str(Path(cwd).parent / "xdg-cache")}


def echofuzz(*args, cwd, timeout=60.0):
    env = cache_beside(cwd)  # PYTHONPATH, set by conftest.py, finds impl/ in the checkout
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


@contextlib.contextmanager
def serving(argv_with_port):
    """Run a server ourselves (for the standalone script, which needs an address)."""
    port = free_port()
    argv = [word.replace("{port}", str(port)) for word in argv_with_port]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            assert wait_until_accepting(("127.0.0.1", port), 10.0), "the server did not start"
            yield f"127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(10)


def alive(pid):
    """Running: neither gone nor a zombie (a zombie has been killed, only not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def twice_failure(tmp_path_factory):
    """One failing campaign, shared by the tests that use its report and script.

    The server's bug does not depend on timing, so that the standalone script,
    which has its own timing, reproduces it every time.
    """
    where = tmp_path_factory.mktemp("twice")
    done = echofuzz(
        "--spawn", TWICE, "--seed", "3", "--max-examples", "30", "--shrink-time", "1", *QUICK,
        "--report", "report.json", "--repro", "repro.py",
        cwd=where,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    return where, read_report(where / "report.json")


def test_a_correct_server_passes_with_exit_status_0_and_a_complete_quiet_report(tmp_path):
    done = echofuzz(
        "--spawn", SELECT_ECHO, "--max-examples", "6", "--seed", "5", *QUICK,
        "--report", "report.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no progress line when stderr is not a terminal
    report = read_report(tmp_path / "report.json")
    assert report.keys() >= REPORT_KEYS
    assert report["verdict"] == "pass"
    assert report["examples"] >= 6 and report["steps"] > report["examples"]
    assert report["first_failure_s"] is None and report["reproduction"] is None
    assert report["seed"] == 5 and report["target"] == SELECT_ECHO
    assert os.listdir(tmp_path) == ["report.json"]  # no script, no .hypothesis/
    assert "no divergence" in done.stdout


def test_the_article_server_fails_with_exit_status_1_and_a_numbered_minimal_sequence(tmp_path):
    done = echofuzz(
        "--spawn", ARTICLE, "--seed", "3", "--max-examples", "30", "--max-bugs", "1", *QUICK,
        "--report", "report.json", "--repro", "repro.py",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    report = read_report(tmp_path / "report.json")
    assert "Traceback" not in done.stdout + done.stderr
    assert report["verdict"] == "fail" and report["seed"] == 3
    assert "exited with status" in report["reason"]
    assert report["first_failure_s"] <= report["elapsed_s"]
    steps = report["reproduction"]
    assert 1 <= len(steps) <= 6
    for number, step in enumerate(steps, 1):
        assert f"{number}. {step['describe']}" in done.stdout
    assert (tmp_path / "repro.py").exists()
    assert "python repro.py HOST:PORT" in done.stdout  # how to run it, as it was named


def test_the_reproduction_script_reproduces_against_the_broken_server_and_not_a_correct_one(
    twice_failure,
):
    where, _ = twice_failure
    script = where / "repro.py"
    with serving([PY, str(TWICE_SERVER), "--port", "{port}"]) as address:
        broken = subprocess.run(
            [PY, str(script), address], capture_output=True, text=True, timeout=30
        )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert broken.stdout.startswith("reproduced:")
    with serving([PY, str(CORRECT_SERVER), "--port", "{port}"]) as address:
        correct = subprocess.run(
            [PY, str(script), address], capture_output=True, text=True, timeout=30
        )
    assert correct.returncode == 0, correct.stdout + correct.stderr
    assert correct.stdout.startswith("did not reproduce")


def test_replaying_a_report_or_a_list_of_steps_diverges_only_on_the_broken_server(
    twice_failure, tmp_path
):
    where, report = twice_failure
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps(report["reproduction"]))
    on_broken = echofuzz("--replay", str(where / "report.json"), "--spawn", TWICE, cwd=tmp_path)
    assert on_broken.returncode == 1, on_broken.stdout + on_broken.stderr
    assert "REPRODUCED" in on_broken.stdout
    bare_list = echofuzz("--replay", str(steps), "--spawn", TWICE, *QUICK, cwd=tmp_path)
    assert bare_list.returncode == 1, bare_list.stdout + bare_list.stderr
    on_correct = echofuzz(
        "--replay", str(steps), "--spawn", CORRECT, "--report", "r.json", cwd=tmp_path
    )
    assert on_correct.returncode == 0, on_correct.stdout + on_correct.stderr
    assert read_report(tmp_path / "r.json")["verdict"] == "pass"


def test_without_a_seed_a_random_one_is_reported_and_rerunning_with_it_repeats_the_run(
    tmp_path,
):
    first = echofuzz(
        "--spawn", CORRECT, "--max-examples", "4", *QUICK, "--report", "run.json", cwd=tmp_path
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    a = read_report(tmp_path / "run.json")
    seed = a["seed"]
    assert isinstance(seed, int)
    assert f"with seed {seed}" in first.stdout
    rerun = re.search(r"^rerun: (.*)$", first.stdout, re.MULTILINE)
    assert rerun is not None and f"--seed {seed}" in rerun[1]
    again = echofuzz(*shlex.split(rerun[1])[1:], cwd=tmp_path)  # the printed command, verbatim
    assert again.returncode == 0, again.stdout + again.stderr
    b = read_report(tmp_path / "run.json")
    assert (a["seed"], a["examples"], a["steps"]) == (b["seed"], b["examples"], b["steps"])


def test_the_installed_echofuzz_script_runs_a_campaign(tmp_path):
    script = Path(PY).with_name("echofuzz")
    assert script.exists(), "the console script is not installed next to the interpreter"
    done = subprocess.run(
        [str(script), "--spawn", CORRECT, "--max-examples", "3", *QUICK],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, env=cache_beside(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no divergence" in done.stdout


def test_a_failure_that_needs_earlier_test_cases_is_reported_with_its_history(tmp_path):
    done = echofuzz(
        "--spawn", shlex.join([PY, str(HISTORY_SERVER), "--port"]) + " {port}",
        "--seed", "1", "--max-examples", "30", "--no-shrink", *QUICK, "--report", "r.json",
        "--max-crowd", "0",  # a crowd finds this leak at once, with no history at all
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    report = read_report(tmp_path / "r.json")
    assert report["history_dependent"] is True
    assert "DEPENDS ON HISTORY" in done.stdout
    assert "history (" in done.stdout
    finishes = [s for s in report["reproduction"] if s["op"] == "finish"]
    assert finishes, "the history's earlier test cases end in 'finish'"


def test_a_shared_example_database_replays_a_known_failure_first(tmp_path):
    common = ["--spawn", TWICE, *QUICK, "--database", "db", "--max-examples", "30", "--no-shrink"]
    first = echofuzz(*common, "--seed", "11", "--report", "1.json", cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    assert any((tmp_path / "db").iterdir())
    second = echofuzz(*common, "--seed", "12", "--report", "2.json", cwd=tmp_path)
    assert second.returncode == 1, second.stdout + second.stderr
    assert read_report(tmp_path / "2.json")["first_failure_example"] == 1


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_ends_the_run_cleanly_with_a_partial_report_and_no_server_left(
    tmp_path, signum, status
):
    pids = tmp_path / "pids"
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(
        "import os, sys\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    f.write(f'{os.getpid()}\\n')\n"
        f"server = {str(CORRECT_SERVER)!r}\n"
        "os.execv(sys.executable, [sys.executable, server, '--port', sys.argv[2]])\n"
    )
    command = shlex.join([PY, str(wrapper), str(pids)]) + " {port}"
    argv = [
        PY,
        "-m",
        "echofuzz",
        "--spawn",
        command,
        "--max-examples",
        "100000",
        "--report",
        "r.json",
    ]
    with subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cache_beside(tmp_path),
    ) as run:
        ready, _, _ = select.select([run.stdout], [], [], 30)
        assert ready, "echofuzz printed nothing"
        assert "fuzzing" in run.stdout.readline()
        time.sleep(2.5)  # well into the campaign, even on a busy machine
        run.send_signal(signum)
        out, err = run.communicate(timeout=20)
    assert run.returncode == status, out + err
    assert "Traceback" not in out + err
    report = read_report(tmp_path / "r.json")
    assert report["verdict"] == "interrupted"
    assert report["examples"] >= 1
    started = [int(line) for line in pids.read_text().split()]
    assert started
    assert not [pid for pid in started if alive(pid)]


def test_bad_command_lines_fail_in_a_subprocess_with_status_2_and_one_line(tmp_path):
    cases = [
        [],
        ["--spawn", "python 'unclosed {port}"],
        ["--spawn", shlex.join([PY, "-c", "raise SystemExit(3)"]) + " {port}"],
    ]
    for args in cases:
        started = time.monotonic()
        done = echofuzz(*args, cwd=tmp_path, timeout=30)
        lines = done.stderr.splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("echofuzz: error: "), (args, lines)
        assert time.monotonic() - started < 10


def greeting_server():
    """A server that says hello and hangs up: not an echo server at all."""
    code = (
        "import socket, sys\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        "    c.sendall(b'hello\\n')\n"
        "    c.close()\n"
    )
    return shlex.join([PY, "-c", code]) + " {port}"


def quiet_server(then):
    """A server that accepts and then does ``then`` with the connection ``c``: never echoes."""
    code = (
        "import socket, sys\n"
        "held = []\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        f"    {then}\n"
    )
    return shlex.join([PY, "-c", code]) + " {port}"


def unused_address():
    with socket.socket() as s:  # bound but not listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


ADDRESS = "127.0.0.1:7000"  # never contacted: each case fails before it would be
BAD = {
    "no target": ([], "no target"),
    "both target and spawn": ([ADDRESS, "--spawn", CORRECT], "not both"),
    "no port": (["localhost"], "expected HOST:PORT"),
    "port out of range": (["127.0.0.1:99999"], "expected HOST:PORT"),
    "port not a number": (["[::1]:x"], "expected HOST:PORT"),
    "spawn without {port}": (["--spawn", "python server.py"], "must contain {port}"),
    "unclosed quote": (["--spawn", "python 'server.py {port}"], "No closing quotation"),
    "empty command": (["--spawn", ""], "empty"),
    "nonexistent executable": (["--spawn", "no-such-program-echofuzz {port}"], "cannot start"),
    "negative max-examples": (["--max-examples", "-3", ADDRESS], "at least 1"),
    "zero max-examples": (["--max-examples", "0", ADDRESS], "at least 1"),
    "zero deadline": (["--deadline", "0", ADDRESS], "positive number"),
    "unknown size unit": (["--max-payload", "4G", ADDRESS], "number of bytes"),
    "unknown operation": (["--ops", "send,fly", ADDRESS], "unknown operation"),
    "operations without connect": (["--ops", "send,expect", ADDRESS], "connect"),
    "negative seed": (["--seed", "-1", ADDRESS], "at least 0"),
    "unknown option": (["--bogus", ADDRESS], "unrecognized arguments"),
    "database is a file": (["--database", str(CORRECT_SERVER), ADDRESS], "not a directory"),
    "report in a missing directory": (
        ["--report", "/no/such/dir/r.json", ADDRESS],
        "does not exist",
    ),
    "replay of a missing file": (["--replay", "missing.json", ADDRESS], "cannot read"),
    "replay of a malformed file": (["--replay", "{bad}", ADDRESS], "is not JSON"),
    "replay of an unknown step": (["--replay", '[{"op": "fly"}]', ADDRESS], "unknown step"),
    "replay of an unopened connection": (
        ["--replay", '[{"op": "send", "conn": "c1", "payload": {"hex": "00"}}]', ADDRESS],
        "not an open connection",
    ),
    "replay of a passing report": (
        ["--replay", '{"verdict": "pass", "reproduction": null}', ADDRESS],
        "without a reproduction",
    ),
    "nothing listening": ([unused_address()], "cannot connect"),
    "server exits at once": (
        ["--spawn", shlex.join([PY, "-c", "raise SystemExit(3)"]) + " {port}"],
        "exited with status 3",
    ),
    "server never listens": (
        [
            "--spawn",
            shlex.join([PY, "-c", "import time; time.sleep(60)"]) + " {port}",
            "--startup-timeout",
            "0.5",
        ],
        "did not accept connections",
    ),
    "a greeting, not an echo": (
        ["--spawn", greeting_server()],
        "and it answered with other bytes: b'hello",
    ),
    "a server that hangs up at once": (
        ["--spawn", quiet_server("c.close()")],
        "the connection without a byte back",
    ),
    "a server that never answers": (
        ["--spawn", quiet_server("held.append(c)"), "--deadline", "0.3"],
        "and it stayed silent for 0.3 s",
    ),
    "an HTTP server": (
        ["--spawn", shlex.join([PY, "-m", "http.server", "--bind", "127.0.0.1"]) + " {port}"],
        "does not echo",
    ),
}


@pytest.mark.parametrize(("args", "says"), list(BAD.values()), ids=list(BAD))
def test_a_bad_invocation_exits_2_with_one_line_and_no_traceback(
    args, says, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    if "--replay" in args and "missing.json" not in args:  # the content is inline: write it
        at = args.index("--replay") + 1
        (tmp_path / "replay.json").write_text(args[at])
        args = [*args[:at], "replay.json", *args[at + 1 :]]
    written = sorted(os.listdir(tmp_path))
    started = time.monotonic()
    status = cli.main(args)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("echofuzz: error: ") and says in lines[0]
    assert time.monotonic() - started < 10
    assert sorted(os.listdir(tmp_path)) == written  # no report, no script, no database


def test_a_redis_database_without_the_redis_package_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the optional extra were missing
    status = cli.main(["--database", "redis://127.0.0.1:6379", ADDRESS])
    lines = capsys.readouterr().err.splitlines()
    assert status == 2
    assert lines == [
        "echofuzz: error: --database redis://127.0.0.1:6379 needs the redis package: "
        "pip install 'demystify-async[redis]'"
    ]


CLOSES_ON_HALF_CLOSE = shlex.join([PY, str(CORPUS / "threads_closes_on_half_close.py"), "--port"])


def test_a_server_that_closes_on_half_close_fails_naming_the_option_and_passes_with_it(tmp_path):
    common = ["--spawn", CLOSES_ON_HALF_CLOSE + " {port}", "--seed", "2", "--max-examples", "20"]
    common += [*QUICK, "--max-bugs", "1", "--shrink-time", "5"]
    undeclared = echofuzz(*common, cwd=tmp_path)
    assert undeclared.returncode == 1, undeclared.stdout + undeclared.stderr
    assert "if that is by design, rerun with --half-close close" in undeclared.stdout
    declared = echofuzz(*common, "--half-close", "close", "--report", "r.json", cwd=tmp_path)
    assert declared.returncode == 0, declared.stdout + declared.stderr
    assert read_report(tmp_path / "r.json")["options"]["half_close"] == "close"


#: Echoes its first 40 connections, one thread each, then stops listening and exits.
SERVES_FORTY_THEN_EXITS = [
    PY,
    "-c",
    "import socket,sys,threading\n"
    "def echo(c):\n"
    "    with c:\n"
    "        try:\n"
    "            while d := c.recv(65536): c.sendall(d)\n"
    "            c.shutdown(socket.SHUT_WR)\n"
    "        except OSError: pass\n"
    "s=socket.create_server(('127.0.0.1',int(sys.argv[1])))\n"
    "for _ in range(40): threading.Thread(target=echo,args=(s.accept()[0],),daemon=True).start()\n"
    "s.close()\n",
    "{port}",
]


def test_an_address_target_that_goes_away_is_reported_lost_with_its_test_case_and_exit_4(
    tmp_path,
):
    with serving(SERVES_FORTY_THEN_EXITS) as address:
        run = echofuzz(address, "--seed", "1", *QUICK, "--report", "r.json", cwd=tmp_path)
    assert run.returncode == 4, run.stdout + run.stderr
    assert "TARGET LOST" in run.stdout
    assert f"{address} stopped accepting connections during test case" in run.stdout
    # Nothing is shrunk against a server that is gone, and nothing is called a bug.
    assert "minimal reproduction" not in run.stdout
    assert "the test case it went away in, as run, not minimal" in run.stdout
    report = read_report(tmp_path / "r.json")
    assert report["verdict"] == "lost" and report["bugs"] == []
    assert report["lost"] == report["reason"] and "nothing was shrunk" in report["lost"]
    assert report["reproduction"], "the steps of the test case it went away in"
