"""The fuzzer finds each of the article's select server's bugs, and shrinks each to a few steps.

The server is the article's, verbatim but for the port. It has (at least) three
distinct ways to die, and the fuzzer must find every one. To make it find the
later ones, the operations that reach the earlier ones are left out:

1. connect-then-reset: the task's first step calls ``getpeername`` on a socket
   that was reset in the meantime: ``OSError: [Errno 107]`` kills the server.
   The task starts only when its socket turns readable, so any reset of a
   connection that never sent anything does this, not only ``connect_reset``.
2. a reset on an established connection: ``recv`` raises ``ConnectionResetError``,
   which nothing catches, and the whole server dies.
3. a client that does not read: ``sendall`` on a non-blocking socket raises
   ``BlockingIOError`` once the send buffer is full, and the server dies.
4. a crowd: ``select.select`` cannot watch a descriptor numbered 1024 or more,
   so the 1,021st client (three descriptors are taken, and the listener) kills
   it with ``ValueError: filedescriptor out of range in select()``.

Crowds are left out of the first three searches: one test case in ten opens
with one, and it would find bug 4 first.
"""

from dataclasses import dataclass

import hypothesis
import pytest

from echofuzz.vocabulary import OPS
from tests.echo_targets import ARTICLE_SELECT_SERVER, describe, fuzz


@dataclass(frozen=True)
class ArticleBug:
    name: str
    left_out: frozenset[str]
    last_words: str  # what the dying server prints
    trigger: str  # the operation the reproduction must contain
    max_steps: int  # a crash that races the client may need a few steps to show reliably
    ignore: tuple[str, ...] = ()  # bugs already found, so the fuzzer looks past them
    # Test cases at least: bug 2 hides behind bug 1 whenever two resets reach the
    # server in one select() call and the idle connection's comes first.
    min_examples: int = 0


BUGS = [
    ArticleBug(
        "reset before the first step",
        frozenset({"crowd", "slow_start"}),
        "Errno 107",
        "connect_reset|reset",  # any reset of a connection that never sent (see above)
        3,
    ),
    ArticleBug(
        "reset of an established connection",
        frozenset({"connect_reset", "slow_start", "crowd"}),
        "ConnectionResetError",
        "reset",
        8,
        ignore=("Errno 107",),
        min_examples=200,
    ),
    ArticleBug(
        "a client that does not read",
        frozenset({"connect_reset", "reset", "close", "crowd"}),
        "BlockingIOError",
        "slow_start",
        16,  # the kernel's buffers make the edge fuzzy: shorter variants crash only sometimes
        ignore=("Errno 107", "ConnectionResetError"),
    ),
    ArticleBug(
        "more than a thousand clients",
        frozenset({"connect_reset", "reset", "close", "slow_start", "burst"}),
        "filedescriptor out of range in select()",
        "crowd",
        2,
    ),
]


@pytest.mark.parametrize("bug", BUGS, ids=[bug.name for bug in BUGS])
def test_the_fuzzer_finds_and_shrinks_each_bug_of_the_article_select_server(bug):
    result = fuzz(
        ARTICLE_SELECT_SERVER,
        ops=frozenset(OPS) - bug.left_out,
        ignore=bug.ignore,
        max_examples=max(hypothesis.settings().max_examples, bug.min_examples),
        max_payload=8 << 20,  # the kernel absorbs about 2.8 MB before sendall fails
    )
    assert result.verdict == "fail", describe(result)
    assert bug.last_words in (result.reason or ""), describe(result)
    ops = [step.op for step in result.reproduction or []]
    assert any(trigger in ops for trigger in bug.trigger.split("|")), describe(result)
    assert len(ops) <= bug.max_steps, describe(result)
    for step in result.reproduction or []:
        if step.op == "crowd":  # shrunk by count to the descriptor limit, or close to it
            assert 1015 <= step.count <= 1030, describe(result)
