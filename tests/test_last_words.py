"""``cause_of_death`` against what real runtimes print when they crash.

Every crash here but Go's is real: a tiny program in Python, Node, Java, Rust, C or
C++ is run (compiled once per module into a scratch directory) and dies, most of
them as echo servers whose client resets the connection, which is how servers die
under echofuzz. Their output is collected exactly as a spawned server's is: by
``targets.drain`` threads into the ``ServerProcess`` ring buffers, then handed to
``cause_of_death``. The expected cause is read from that output, never written
down, so a test fails if the runtime's format drifts away from the rules.

There is no Go toolchain on the machines this runs on, so Go's panics are text
written by hand in the format the Go runtime prints; they are marked as such. So is
the one-line panic of Rust before 1.73, which no installed rustc prints any more.

A toolchain that is missing (``javac``, ``rustc``, ``gcc``) skips its tests with a
reason. Every wait is bounded; the only network is the loopback interface.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from echofuzz.engine.last_words import LONGEST, cause_of_death, killed_by
from echofuzz.engine.targets import ServerProcess, drain, free_port, wait_until_accepting

HOST = "127.0.0.1"
#: Longest any of these programs may take to start or to die.
PATIENCE = 20.0
NODE = shutil.which("node")


def launch(argv: Sequence[str | Path], cwd: Path | None = None, **env: str) -> ServerProcess:
    """Start a program the way ``SpawnedTarget`` does, its output drained the same way."""
    process = subprocess.Popen(
        [str(word) for word in argv],
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    server = ServerProcess(process, 0, [])
    assert process.stdout is not None and process.stderr is not None
    for stream, lines in ((process.stdout, server.stdout), (process.stderr, server.stderr)):
        thread = threading.Thread(target=drain, args=(stream, lines), daemon=True)
        thread.start()
        server.drains.append(thread)
    return server


def dead(server: ServerProcess) -> ServerProcess:
    """Wait (bounded) for it to die and for its last words to arrive."""
    try:
        server.process.wait(PATIENCE)
    finally:
        server.kill()  # a no-op for the dead; the survivor of a failed test goes
    for thread in server.drains:
        thread.join(PATIENCE)
    return server


def run(argv: Sequence[str | Path], cwd: Path | None = None, **env: str) -> ServerProcess:
    return dead(launch(argv, cwd, **env))


def reset_after_echo(server: ServerProcess, port: int) -> ServerProcess:
    """Be a client that gets one echo and then resets, the way echofuzz's resets do."""
    try:
        assert wait_until_accepting((HOST, port), PATIENCE, server.alive), list(server.stderr)
        with socket.create_connection((HOST, port), timeout=PATIENCE) as client:
            client.sendall(b"hello")
            echoed = b""
            while len(echoed) < 5 and (chunk := client.recv(5 - len(echoed))):
                echoed += chunk
            assert echoed == b"hello"
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except BaseException:
        server.kill()
        raise
    return dead(server)


def cause_of(server: ServerProcess) -> str:
    """The cause, which must not change if the caller strips the lines' indentation."""
    cause = cause_of_death(server.stderr, server.stdout)
    stripped = [[line.strip() for line in lines] for lines in (server.stderr, server.stdout)]
    assert cause_of_death(*stripped) == cause
    return cause


def unindented(lines: Sequence[str], pattern: str) -> list[str]:
    return [line for line in lines if re.match(pattern, line)]


def compiled(tool: str, tmp_path_factory: pytest.TempPathFactory, source: str, name: str) -> Path:
    """Compile ``source`` (file ``name``) with ``tool`` into a fresh scratch directory."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    where = tmp_path_factory.mktemp(tool.replace("+", "p"))
    (where / name).write_text(source)
    if tool == "javac":
        argv = [tool, "-d", ".", name]
    elif tool == "rustc":
        argv = [tool, "-o", "prog", name]
    else:
        argv = [tool, "-fstack-protector-all", "-o", "prog", name]
    # Run in its directory, so that the file names in crash reports are short.
    done = subprocess.run(argv, cwd=where, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return where


# -- Python -------------------------------------------------------------------------

PYTHON_ECHO = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    connection, _ = server.accept()
    with connection:
        while data := connection.recv(4096):
            connection.sendall(data)
"""

PYTHON_TASKGROUP_ECHO = """
import asyncio, socket, sys

async def echo(port):
    loop = asyncio.get_running_loop()
    server = socket.create_server(("127.0.0.1", port))
    server.setblocking(False)
    while True:
        connection, _ = await loop.sock_accept(server)
        with connection:
            while data := await loop.sock_recv(connection, 4096):
                await loop.sock_sendall(connection, data)

async def main():
    async with asyncio.TaskGroup() as group:
        group.create_task(echo(int(sys.argv[1])))
        group.create_task(asyncio.sleep(3600))

asyncio.run(main())
"""


def test_a_python_server_reset_by_its_client_is_reported_by_its_exception_line() -> None:
    port = free_port()
    server = reset_after_echo(launch([sys.executable, "-c", PYTHON_ECHO, str(port)]), port)
    said = list(server.stderr)
    assert said[0] == "Traceback (most recent call last):"
    assert cause_of(server) == said[-1]
    assert re.match(r"(ConnectionResetError|BrokenPipeError): \[Errno \d+\]", said[-1])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_an_exception_group_is_reported_by_the_group_and_the_errors_inside_it() -> None:
    port = free_port()
    argv = [sys.executable, "-c", PYTHON_TASKGROUP_ECHO, str(port)]
    server = reset_after_echo(launch(argv), port)
    boxed = [line.strip(" |") for line in server.stderr if line.lstrip().startswith("| ")]
    group = next(line for line in boxed if line.startswith("ExceptionGroup: "))
    leaf = next(line for line in boxed if re.match(r"\w+Error: \[Errno", line))
    assert cause_of(server) == f"{group}: {leaf}"


def test_of_chained_exceptions_the_one_raised_last_is_the_cause() -> None:
    program = (
        "try:\n    raise ConnectionResetError(104, 'Connection reset by peer')\n"
        "except OSError as exc:\n    raise RuntimeError('echo loop failed') from exc\n"
    )
    server = run([sys.executable, "-c", program])
    exception_lines = unindented(server.stderr, r"\w+Error: ")
    assert len(exception_lines) == 2
    assert cause_of(server) == exception_lines[-1]
    assert exception_lines[-1].startswith("RuntimeError")


def test_an_interrupted_python_server_says_keyboardinterrupt() -> None:
    program = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    server = launch([sys.executable, "-c", program])
    limit = time.monotonic() + PATIENCE
    while "ready" not in server.stdout and time.monotonic() < limit and server.alive():
        time.sleep(0.01)
    server.process.send_signal(signal.SIGINT)
    dead(server)
    assert server.stderr[-1] == "KeyboardInterrupt"
    assert cause_of(server) == "KeyboardInterrupt"


def test_a_survived_traceback_printed_earlier_does_not_hide_the_fatal_one() -> None:
    program = (
        "import sys, traceback\ntry:\n    {}['port']\nexcept KeyError:\n"
        "    traceback.print_exc()\nprint('still serving', file=sys.stderr)\n"
        "raise OSError(98, 'Address already in use')\n"
    )
    server = run([sys.executable, "-c", program])
    assert unindented(server.stderr, r"KeyError")
    assert cause_of(server) == server.stderr[-1]
    assert server.stderr[-1].startswith("OSError")


def test_a_plain_last_line_is_the_cause_when_no_runtime_explains_it() -> None:
    server = run([sys.executable, "-c", "print('listening'); raise SystemExit('bind: no')"])
    assert cause_of(server) == server.stderr[-1] == "bind: no"
    quiet = run([sys.executable, "-c", "print('served 3 clients'); raise SystemExit(3)"])
    assert not quiet.stderr
    assert cause_of(quiet) == quiet.stdout[-1]


# -- Node.js --------------------------------------------------------------------------

NODE_PIPE_ECHO = "require('net').createServer(s => s.pipe(s)).listen(+process.argv[1], '127.0.0.1')"

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


@needs_node
def test_nodes_pipe_echo_reset_by_its_client_is_reported_as_econnreset_not_its_version() -> None:
    assert NODE is not None
    port = free_port()
    server = reset_after_echo(launch([NODE, "-e", NODE_PIPE_ECHO, str(port)]), port)
    said = list(server.stderr)
    assert said[-1].startswith("Node.js v")  # what the old rule reported
    error = unindented(said, r"Error: ")
    codes = [m.group(1) for line in said if (m := re.match(r"\s+code: '(\w+)'", line))]
    assert error and codes == ["ECONNRESET"]
    assert cause_of(server) == f"{error[0]} (code {codes[0]})"


@needs_node
def test_a_thrown_typeerror_in_node_is_its_cause() -> None:
    assert NODE is not None
    server = run([NODE, "-e", "throw new TypeError('x is not a socket')"])
    said = list(server.stderr)
    assert said[-1].startswith("Node.js v")
    assert unindented(said, r"TypeError: ") == ["TypeError: x is not a socket"]
    assert cause_of(server) == "TypeError: x is not a socket"


@needs_node
def test_a_thrown_string_in_node_is_its_cause() -> None:
    assert NODE is not None
    server = run([NODE, "-e", "throw 'out of sockets'"])
    assert "out of sockets" in server.stderr
    assert cause_of(server) == "out of sockets"


# -- Java -----------------------------------------------------------------------------

JAVA_ECHO = """
import java.io.*;
import java.net.*;

public class EchoServer {
    public static void main(String[] args) throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket server = new ServerSocket(Integer.parseInt(args[0]), 50, loopback)) {
            while (true) {
                try (Socket client = server.accept()) {
                    echo(client, args.length > 1);
                }
            }
        }
    }

    static void echo(Socket client, boolean wrap) throws IOException {
        InputStream in = client.getInputStream();
        OutputStream out = client.getOutputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = in.read(buffer)) > 0; ) {
                out.write(buffer, 0, n);
            }
        } catch (SocketException e) {
            if (wrap) {
                throw new UncheckedIOException("echo loop failed", e);
            }
            throw e;
        }
    }
}
"""


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled("javac", tmp_path_factory, JAVA_ECHO, "EchoServer.java")


def java_echo_reset(classes: Path, *mode: str) -> ServerProcess:
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed")
    port = free_port()
    argv = [java, "-cp", classes, "EchoServer", str(port), *mode]
    return reset_after_echo(launch(argv), port)


def test_a_java_server_reset_by_its_client_is_reported_by_its_exception(
    java_classes: Path,
) -> None:
    server = java_echo_reset(java_classes)
    first = unindented(server.stderr, r'Exception in thread "main" ')
    assert len(first) == 1
    thrown = first[0].removeprefix('Exception in thread "main" ')
    assert thrown.startswith("java.net.SocketException")
    assert cause_of(server) == thrown


def test_a_wrapped_java_exception_is_reported_with_its_root_cause(java_classes: Path) -> None:
    server = java_echo_reset(java_classes, "wrap")
    first = unindented(server.stderr, r'Exception in thread "main" ')
    roots = unindented(server.stderr, r"Caused by: ")
    assert len(first) == 1 and len(roots) == 1
    thrown = first[0].removeprefix('Exception in thread "main" ')
    root = roots[0].removeprefix("Caused by: ")
    assert thrown == "java.io.UncheckedIOException: echo loop failed"
    assert root.startswith("java.net.SocketException")
    assert cause_of(server) == f"{thrown}; caused by {root}"


# -- Rust -----------------------------------------------------------------------------

RUST_ECHO = """
use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "index" {
        let empty: Vec<u8> = vec![];
        println!("{}", empty[args.len() + 1]);
        return;
    }
    let port: u16 = args[1].parse().unwrap();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for stream in listener.incoming() {
        let mut stream = stream.unwrap();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            stream.write_all(&buffer[..n]).unwrap();
        }
    }
}
"""

RUST_PANIC = re.compile(r"^thread 'main'(?: \(\d+\))? panicked at (\S+):$")


@pytest.fixture(scope="module")
def rust_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled("rustc", tmp_path_factory, RUST_ECHO, "echo.rs") / "prog"


def rust_said(server: ServerProcess) -> tuple[str, str]:
    """Where it panicked and the line after, as the runtime printed them."""
    lines = list(server.stderr)
    at = next(i for i, line in enumerate(lines) if RUST_PANIC.match(line))
    where = RUST_PANIC.match(lines[at])
    assert where is not None
    return where.group(1), lines[at + 1]


def test_a_rust_server_unwrapping_a_reset_is_reported_by_its_panic_and_message(
    rust_binary: Path,
) -> None:
    port = free_port()
    launched = launch([rust_binary, str(port)], RUST_BACKTRACE="0")
    server = reset_after_echo(launched, port)
    where, message = rust_said(server)
    assert "ConnectionReset" in message or "BrokenPipe" in message
    assert server.stderr[-1].startswith("note: run with `RUST_BACKTRACE=1`")
    expected = f"thread 'main' panicked at {where}: {message}"
    assert cause_of(server) == expected


def test_a_rust_index_out_of_bounds_is_reported_without_its_backtrace(rust_binary: Path) -> None:
    server = run([rust_binary, "index"], RUST_BACKTRACE="1")
    where, message = rust_said(server)
    assert "stack backtrace:" in server.stderr
    assert message.startswith("index out of bounds")
    expected = f"thread 'main' panicked at {where}: {message}"
    assert cause_of(server) == expected


def test_the_one_line_panic_of_rust_before_1_73_reads_like_the_new_one() -> None:
    # Recorded by hand in the format of Rust 1.72 and earlier; not printed by a rustc here.
    stderr = [
        "thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value: "
        'Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" }\', '
        "src/main.rs:18:47",
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    ]
    assert cause_of_death(stderr) == (
        "thread 'main' panicked at src/main.rs:18:47: called `Result::unwrap()` on an `Err` "
        'value: Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" }'
    )


# -- C and C++ ------------------------------------------------------------------------

C_CRASHES = r"""
#include <assert.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char small[4];
    volatile int *nowhere = NULL;
    fprintf(stderr, "echo: listening\n");
    if (strcmp(argv[1], "assert") == 0) {
        assert(argc == 7);
    } else if (strcmp(argv[1], "smash") == 0) {
        strcpy(small, argv[2]);
        return small[0];
    }
    return *nowhere;
}
"""

CXX_THROW = r"""
#include <stdexcept>

int main() {
    throw std::runtime_error("echo loop failed: Connection reset by peer");
}
"""


@pytest.fixture(scope="module")
def c_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled("gcc", tmp_path_factory, C_CRASHES, "crash.c") / "prog"


def test_a_failed_c_assertion_is_reported_by_glibcs_line(c_binary: Path) -> None:
    server = run([c_binary, "assert"])
    assert server.process.returncode == -signal.SIGABRT
    assertion = unindented(server.stderr, r"\S+: .*: Assertion .* failed\.$")
    assert len(assertion) == 1 and "argc == 7" in assertion[0]
    assert cause_of(server) == assertion[0]


def test_stack_smashing_is_reported_by_glibcs_line(c_binary: Path) -> None:
    server = run([c_binary, "smash", "far more than four bytes"])
    assert server.process.returncode == -signal.SIGABRT
    smashed = unindented(server.stderr, r"\*\*\* stack smashing detected \*\*\*")
    assert len(smashed) == 1
    assert cause_of(server) == smashed[0]


def test_a_segfault_says_nothing_so_the_caller_reports_the_signal(c_binary: Path) -> None:
    server = run([c_binary, "segfault"])
    assert list(server.stderr) == ["echo: listening"]  # the process could not say more
    assert cause_of(server) == "echo: listening"
    assert killed_by(server.process.returncode) == "killed by SIGSEGV (Segmentation fault)"
    assert killed_by(0) == killed_by(1) == ""


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_a_segfault_under_a_shell_is_reported_by_the_shell(c_binary: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    server = run([shell, "-c", f"'{c_binary}' segfault; exit $?"])
    shells_word = [line for line in server.stderr if "Segmentation fault" in line]
    assert len(shells_word) == 1
    assert cause_of(server).startswith("Segmentation fault")
    after_assert = run([shell, "-c", f"'{c_binary}' assert; exit $?"])
    assertion = unindented(after_assert.stderr, r"\S+: .*: Assertion")
    aborted = [line for line in after_assert.stderr if "Aborted" in line]
    assert assertion and aborted
    assert cause_of(after_assert) == f"{assertion[0]} (Aborted)"


def test_an_uncaught_cxx_exception_is_reported_with_its_what(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    binary = compiled("g++", tmp_path_factory, CXX_THROW, "throw.cpp") / "prog"
    server = run([binary])
    terminate = unindented(server.stderr, r"terminate called after throwing")
    what = [line.split("what():", 1)[1].strip() for line in server.stderr if "what():" in line]
    assert len(terminate) == 1 and what == ["echo loop failed: Connection reset by peer"]
    assert cause_of(server) == f"{terminate[0]}: {what[0]}"


# -- Go (recorded by hand: no Go toolchain here) --------------------------------------


def go_panic(first: Sequence[str]) -> list[str]:
    """A Go crash in the format of the Go 1.2x runtime, written by hand, not run."""
    return [
        *first,
        "",
        "goroutine 1 [running]:",
        "main.handleError(...)",
        "\t/home/user/echo/main.go:31",
        "main.main()",
        "\t/home/user/echo/main.go:24 +0x1d",
        "exit status 2",
    ]


@pytest.mark.parametrize(
    ("first", "cause"),
    [
        (
            ["panic: runtime error: index out of range [5] with length 3"],
            "panic: runtime error: index out of range [5] with length 3",
        ),
        (
            ["panic: write tcp 127.0.0.1:7000->127.0.0.1:51234: write: broken pipe"],
            "panic: write tcp 127.0.0.1:7000->127.0.0.1:51234: write: broken pipe",
        ),
        (
            [
                "panic: runtime error: invalid memory address or nil pointer dereference",
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x48f1a5]",
            ],
            "panic: runtime error: invalid memory address or nil pointer dereference",
        ),
        (
            ["panic: read: connection reset by peer [recovered]", "\tpanic: close: bad fd"],
            "panic: read: connection reset by peer",
        ),
        (
            ["fatal error: all goroutines are asleep - deadlock!"],
            "fatal error: all goroutines are asleep - deadlock!",
        ),
    ],
)
def test_a_go_panic_is_reported_by_its_panic_line_not_its_goroutines(
    first: list[str], cause: str
) -> None:
    assert cause_of_death(go_panic(first)) == cause


# -- Across runtimes ------------------------------------------------------------------


def cannot_bind(runtime: str, request: pytest.FixtureRequest) -> list[str | Path]:
    """A command for an echo server of ``runtime``, to be followed by its port."""
    if runtime == "python":
        return [sys.executable, "-c", PYTHON_ECHO]
    if runtime == "node":
        if NODE is None:
            pytest.skip("node is not installed")
        return [NODE, "-e", NODE_PIPE_ECHO]
    if runtime == "rust":
        return [request.getfixturevalue("rust_binary")]
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed")
    return [java, "-cp", request.getfixturevalue("java_classes"), "EchoServer"]


@pytest.mark.parametrize("runtime", ["python", "node", "java", "rust"])
def test_a_server_whose_port_is_taken_says_in_use_which_spawning_retries_on(
    runtime: str, request: pytest.FixtureRequest
) -> None:
    argv = cannot_bind(runtime, request)
    with socket.create_server((HOST, 0)) as taken:
        server = run([*argv, str(taken.getsockname()[1])], RUST_BACKTRACE="0")
    assert server.process.returncode != 0
    said = [line for line in server.stderr if "in use" in line]
    assert said, list(server.stderr)
    assert "in use" in cause_of(server)


def test_stdout_is_read_when_stderr_says_nothing_useful() -> None:
    program = "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
    program += "    traceback.print_exc(file=__import__('sys').stdout)\nraise SystemExit(1)\n"
    server = run([sys.executable, "-c", program])
    assert not server.stderr
    assert cause_of(server) == server.stdout[-1]
    assert server.stdout[-1].startswith("ZeroDivisionError")


def test_a_cause_is_one_line_of_bounded_length() -> None:
    long = "x" * 3 * LONGEST
    cut = cause_of_death([f"panic: {long}"])
    assert len(cut) == LONGEST and cut == f"panic: {long}"[: LONGEST - 3] + "..."
    assert cause_of_death(["ValueError: a  b\tc"]) == "ValueError: a b c"
