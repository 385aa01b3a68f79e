"""Mutants that no test can tell from the original, each with its reason.

A mutant is named by its module (a glob), the line as it was and the line as
the mutant has it (both stripped), so an entry survives edits elsewhere in
the file. The runner warns about entries that no longer match any mutant. Keep
this short: a mutant that *could* be observed belongs in the specification.
"""

from __future__ import annotations

from typing import NamedTuple


class Equivalent(NamedTuple):
    """One line of ``impl/`` whose listed mutants (``after``) behave as the line does."""

    path: str
    before: str
    after: tuple[str, ...]
    reason: str


EQUIVALENT: tuple[Equivalent, ...] = (
    Equivalent(
        "impl/select_echo.py",
        "poller.register(sock, select.POLLIN if wait is Wait.READABLE else select.POLLOUT)",
        ("poller.register(sock, select.POLLIN if wait == Wait.READABLE else select.POLLOUT)",),
        "enum members compare equal only to themselves: == is identity for Wait",
    ),
    Equivalent(
        "impl/*",
        'if __name__ == "__main__":',
        ('if __name__ <= "__main__":',),
        "every module name under impl/ sorts after '__main__', so only python -m runs main()",
    ),
    Equivalent(
        "impl/binary.py",
        "return l + 1 + r",
        ("return l | 1 + r", "return l + 1 | r", "return l ^ 1 + r", "return l + 1 ^ r"),
        "the trees are complete, l == r == 2**n - 1: l+1 and r+1 are 2**n, which shares no bit"
        " with r or l, so |, ^ and + agree",
    ),
    Equivalent(
        "impl/loop/core.py",
        "if future is task:",
        ("if future == task:",),
        "Future defines no __eq__: == is identity",
    ),
    Equivalent(
        "impl/loop/core.py",
        "if registered and (owner is None or registered_owner is not owner):",
        ("if registered and (owner is None or registered_owner != owner):",),
        "sockets define no __eq__: != is identity",
    ),
    Equivalent(
        "impl/loop/core.py",
        "self._watched[fd] = (wanted | registered, owner)",
        (
            "self._watched[fd] = (wanted + registered, owner)",
            "self._watched[fd] = (wanted ** registered, owner)",
            "self._watched[fd] = (wanted << registered, owner)",
        ),
        "a wrong record of what is registered, covering what is wanted: the next _watch or"
        " _trim makes one modify() more, which puts the registration right",
    ),
    Equivalent(
        "impl/loop/clock.py",
        "ready = selector.select(0) if selector.get_map() else []",
        ("ready = selector.select( -1) if selector.get_map() else []",),
        "selectors takes a negative timeout for 0: both only poll",
    ),
    Equivalent(
        "impl/async_echo.py",
        "CHUNK = 65536",
        ("CHUNK = 65537", "CHUNK = 65535"),
        "how much one recv asks for: any size echoes the same bytes",
    ),
    Equivalent(
        "impl/blocking_echo.py",
        "CHUNK_SIZE = 65536",
        ("CHUNK_SIZE = 65537", "CHUNK_SIZE = 65535"),
        "how much one recv asks for: any size echoes the same bytes",
    ),
    Equivalent(
        "impl/select_echo.py",
        "CHUNK_SIZE = 262144",
        ("CHUNK_SIZE = 262145", "CHUNK_SIZE = 262143"),
        "how much one recv asks for (and so the most a task owes): a byte more or less is alike",
    ),
    Equivalent(
        "impl/async_echo.py",
        "if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):",
        ("if not error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):",),
        "without the back-off an exhausted server retries accept at once: busier, not different",
    ),
    Equivalent(
        "impl/async_echo.py",
        "await sleep(0.1)  # out of resources: let connections finish, then retry",
        (
            "await sleep( 1.1)  # out of resources: let connections finish, then retry",
            "await sleep( -0.9)  # out of resources: let connections finish, then retry",
        ),
        "the back-off's length changes how busy or how prompt the server is, not what it echoes",
    ),
    Equivalent(
        "impl/async_echo.py",
        "with open_listener(args.host, args.port, blocking=False) as listener:",
        ("with open_listener(args.host, args.port, blocking=True) as listener:",),
        "accept() runs only once the listener is readable, and only this process accepts on it",
    ),
    Equivalent(
        "impl/select_echo.py",
        "listener = open_listener(arguments.host, arguments.port, blocking=False)",
        ("listener = open_listener(arguments.host, arguments.port, blocking=True)",),
        "accept() runs only once the listener is readable, and only this process accepts on it",
    ),
    Equivalent(
        "impl/blocking_echo.py",
        "except ConnectionAbortedError:",
        ("except CosmicRayTestingException:",),
        "Linux accepts a connection reset in the backlog instead of failing: BSDs' ECONNABORTED",
    ),
    Equivalent(
        "impl/blocking_echo.py",
        "continue",
        ("break",),
        "the same ECONNABORTED branch, which Linux never takes",
    ),
    Equivalent(
        "impl/serving.py",
        "listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        ("listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 2)",),
        "any nonzero value turns the option on",
    ),
    Equivalent(
        "impl/serving.py",
        "listener.listen(128)",
        ("listener.listen( 129)", "listener.listen( 127)"),
        "the backlog's length: the kernel caps it at somaxconn, and no test fills it",
    ),
)
