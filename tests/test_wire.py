"""The reproduction script and the fuzzer agree: same payloads, same probe, same verdicts.

The script is ``echofuzz.model`` and ``echofuzz.wire`` inlined; these tests run
it as its users will (a file, the standard library only, no echofuzz anywhere on
its path) and hold it to the differential executor's verdicts on the same steps
against the same servers, correct and broken.
"""

import subprocess
import sys

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
