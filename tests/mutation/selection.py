"""Which tests run against the mutants of each module of ``impl/``.

Each module gets the fast tests that exercise it, not the whole suite: a run
is one pytest session per mutant, so every second here is paid hundreds of
times. The fuzzer's own tests and the slow differential runs are left out;
what kills a mutant must be a check that says what the module promises.

Servers and ``python -m`` entry points are only observable from a subprocess,
so their rows include the tests that start them: those subprocesses import
the mutated file from disk like any other.
"""

from __future__ import annotations

LOOP = (
    "tests/test_loop_core.py",
    "tests/test_loop_spec.py",
    "tests/test_loop_broken.py",
    "spec/loop/",
)
"""The loop's specification, its broken variants and its own tests (a few seconds in all)."""

ENTRY_POINTS = "tests/test_entry_points.py"
SERVERS = "tests/test_reference_servers.py"
PARTS = "tests/test_server_parts.py"

MODULES: dict[str, tuple[str, ...]] = {
    "impl/__init__.py": (),
    "impl/binary.py": ("tests/test_binary.py", "spec/binary.py", ENTRY_POINTS, "-k", "binary"),
    "impl/coroutine_trace.py": (
        "tests/test_coroutine_trace.py",
        "spec/coroutine_trace.py",
        ENTRY_POINTS,
        "-k",
        "coroutine_trace",
    ),
    "impl/pep380.py": ("tests/test_pep380.py", "spec/pep380.py", "spec/pep380_programs.py"),
    "impl/power.py": (
        "tests/test_delegation.py",
        "spec/delegation.py",
        ENTRY_POINTS,
        "-k",
        "delegation or power",
    ),
    "impl/loop/__init__.py": LOOP,
    "impl/loop/clock.py": LOOP,
    "impl/loop/core.py": (*LOOP, "tests/test_loop_echo.py"),
    "impl/loop/futures.py": LOOP,
    "impl/loop/sockets.py": (*LOOP, "tests/test_loop_echo.py"),
    "impl/loop/sync.py": LOOP,
    "impl/loop/timers.py": LOOP,
    "impl/async_echo.py": (
        "tests/test_loop_echo.py",
        SERVERS,
        ENTRY_POINTS,
        "-k",
        "async_echo or test_loop_echo",
    ),
    "impl/blocking_echo.py": (SERVERS, PARTS, ENTRY_POINTS, "-k", "blocking_echo"),
    "impl/select_echo.py": (SERVERS, PARTS, ENTRY_POINTS, "-k", "select_echo"),
    "impl/serving.py": (SERVERS, PARTS, "-k", "select_echo or blocking_echo or serving"),
}
"""Module path -> the pytest arguments that select its tests (paths, then ``-k``)."""
