"""The echo specification validated both ways: correct servers pass every check, broken ones fail.

As Hypothesis validates itself by finding the bugs it is meant to find, a
specification is validated by rejecting the servers it is meant to reject.
So every ``check_*`` of ``spec.echo`` runs against servers that must pass it
-- the fuzzer's trio oracle, in this test's nursery, and the reference servers
``impl.select_echo`` and ``impl.async_echo`` -- and against the broken servers
of ``tests/corpus/`` that break its claim, each of which must fail it with the
line that names what broke. Every broken server in the corpus is rejected by
at least one check.

Rejections run with a short deadline: a broken server fails either at once (a
wrong byte, a reset, an early EOF) or by a stall, and a stall shows within
half a second as surely as within five.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio

from echofuzz.engine.oracle import EchoOracle
from spec.echo import echo, half_close, isolation
from tests.test_reference_servers import (
    CORPUS,
    CORPUS_ENTRIES,
    RunningServer,
    corpus,
    reference,
    running_server,
)

Check = Callable[..., Awaitable[None]]

CHECKS: list[Check] = [
    echo.check_every_byte_value_comes_back,
    echo.check_small_writes_come_back_in_order,
    echo.check_a_large_echo_comes_back_complete,
    half_close.check_half_close_of_a_silent_connection,
    half_close.check_half_close_after_an_exchange,
    half_close.check_half_close_right_after_a_send,
    half_close.check_half_close_with_a_large_echo_owed,
    isolation.check_no_crosstalk,
    isolation.check_idle_clients_hold_up_no_one,
    isolation.check_a_client_that_does_not_read_holds_up_only_itself,
    isolation.check_a_reset_or_vanished_client_affects_no_other,
    isolation.check_the_server_keeps_accepting,
]
CLAIMS: list[Check] = [echo.check_echo, half_close.check_half_close, isolation.check_isolation]
REFERENCE_SERVERS = ["impl.select_echo", "impl.async_echo"]

#: The deadline of every wait when a broken server is expected to fail (see the docstring).
REJECTION_DEADLINE = 0.5

#: A server that dies of a client's reset ends the steady connection with it; one slow to die
#: may first let that connection echo once more, and then refuse the next newcomer.
DIED_OF_A_RESET = (
    r"steady: the server (closed|reset) the connection although the client did not"
    r"|new\d: connect failed"
)

#: (check, broken corpus server, what the failure must say): the server breaks the check's claim.
REJECTIONS: list[tuple[Check, str, str]] = [
    # Claims 1 and 2: the bytes, and all of them.
    (
        echo.check_every_byte_value_comes_back,
        "trio_drops_telnet_iac_bytes",
        "c1: got 255 of 256 bytes back; the connection is still open",
    ),
    (
        echo.check_every_byte_value_comes_back,
        "asyncio_protocol_universal_newlines",
        r"byte 13 came back as b'\\n' but was sent as b'\\r'",
    ),
    (
        echo.check_every_byte_value_comes_back,
        "threads_peeked_first_chunk_echoed_twice",
        r"c1: (got 512 bytes back but only 256 were sent|byte 256 came back as)",
    ),
    (
        echo.check_small_writes_come_back_in_order,
        "selectors_lifo_outbox_reorders_chunks",
        r"c1: byte \d+ came back as",
    ),
    (
        echo.check_a_large_echo_comes_back_complete,
        "socketserver_echoes_only_4096_of_each_read",
        r"c1: (byte \d+ came back as|got \d+ of \d+ bytes back)",
    ),
    (
        echo.check_a_large_echo_comes_back_complete,
        "threads_quota_discards_after_1mib",
        r"c1: got 1048576 of \d+ bytes back; the connection is still open",
    ),
    (
        echo.check_every_byte_value_comes_back,
        "selectors_three_bugs",
        r"c1: (got 255 of 256 bytes back|byte \d+ came back as|bytes \d+-\d+ never came back)",
    ),
    (
        echo.check_small_writes_come_back_in_order,
        "threads_two_bugs_newlines_and_reset",
        r"c1: (byte \d+ came back as|bytes \d+-\d+ never came back|got \d+ of \d+ bytes back)",
    ),
    # Claim 3: after the client's FIN, everything owed, then FIN.
    (
        half_close.check_half_close_right_after_a_send,
        "threads_closes_on_half_close",
        "right after the client's half-close, dropping",
    ),
    (
        half_close.check_half_close_right_after_a_send,
        "trio_resets_instead_of_fin",
        "after the client's half-close the server reset the connection",
    ),
    (
        half_close.check_half_close_right_after_a_send,
        "asyncio_protocol_never_closes_after_eof",
        "after the client's half-close the server did not close the connection",
    ),
    (
        half_close.check_half_close_right_after_a_send,
        "asyncio_streams_closes_before_flushing",
        r"closed the connection right after the client's half-close, dropping 10 bytes",
    ),
    # Claim 4: isolation.
    (
        isolation.check_no_crosstalk,
        "selectors_echo_goes_to_latest_connection_of_host",
        r"c3: bytes 1000-\d+ that came back are what c2 sent: the server crossed connections",
    ),
    (
        isolation.check_idle_clients_hold_up_no_one,
        "socketserver_one_client_at_a_time",
        "c1: got 0 of 31 bytes back; the connection is still open",
    ),
    (
        isolation.check_idle_clients_hold_up_no_one,
        "threads_pool_of_three_workers",
        "c1: got 0 of 31 bytes back; the connection is still open",
    ),
    (
        isolation.check_a_client_that_does_not_read_holds_up_only_itself,
        "select_blocking_sendall_stalls_everyone",
        r"c1: got \d+ of 100000 bytes back; the connection is still open",
    ),
    (
        isolation.check_a_client_that_does_not_read_holds_up_only_itself,
        "selectors_ignores_partial_send",
        r"c1: byte \d+ came back as",
    ),
    (
        isolation.check_a_reset_or_vanished_client_affects_no_other,
        "trio_crashes_on_client_reset",
        DIED_OF_A_RESET,
    ),
    (
        isolation.check_a_reset_or_vanished_client_affects_no_other,
        "select_generator_task_calls_getpeername_late",
        DIED_OF_A_RESET,
    ),
    (
        isolation.check_the_server_keeps_accepting,
        "asyncio_streams_leaks_slots_after_ten",
        "c11: the server (closed|reset) the connection although the client did not",
    ),
    (
        isolation.check_the_server_keeps_accepting,
        "asyncio_protocol_every_40th_connection_mangled",
        r"c40: byte 128 came back as b'\\xc2' but was sent as b'\\x80'",
    ),
]


def named(check: Check) -> str:
    return check.__name__.removeprefix("check_")


@pytest.fixture(scope="module", params=REFERENCE_SERVERS)
def reference_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """One process per reference server for the whole module: every check shares it."""
    with running_server(reference(request.param)) as server:
        yield server
        server.assert_alive()


@pytest.mark.parametrize("check", CHECKS, ids=named)
async def test_every_check_passes_against_the_trio_oracle(check, nursery):
    address = await EchoOracle().start(nursery)
    await check(address)


@pytest.mark.parametrize("claim", CLAIMS, ids=named)
async def test_each_claims_checks_pass_one_after_another_against_the_trio_oracle(claim, nursery):
    address = await EchoOracle().start(nursery)
    await claim(address)


@pytest.mark.parametrize("check", CHECKS, ids=named)
async def test_every_check_passes_against_the_reference_servers(check, reference_server):
    await check((reference_server.host, reference_server.port))
    reference_server.assert_alive()


@pytest.mark.parametrize(
    ("check", "server", "failure"),
    REJECTIONS,
    ids=[f"{named(check)}-{server}" for check, server, _ in REJECTIONS],
)
async def test_each_check_rejects_the_broken_servers_that_break_its_claim(check, server, failure):
    with running_server(corpus(CORPUS / f"{server}.py")) as broken:
        address = (broken.host, broken.port)
        with pytest.raises(AssertionError, match=failure):
            await check(address, deadline=REJECTION_DEADLINE)


async def test_a_server_that_breaks_only_the_half_close_claim_passes_every_other_claims_checks():
    # The claims are separate: a check fails for its own claim, not for another's.
    # This server resets where it owes a FIN, and does nothing else wrong.
    with running_server(corpus(CORPUS / "trio_resets_instead_of_fin.py")) as server:
        address = (server.host, server.port)
        await echo.check_echo(address)
        await isolation.check_isolation(address)
        with pytest.raises(AssertionError, match="half-close the server reset"):
            await half_close.check_half_close(address)
        server.assert_alive()


def test_every_broken_server_of_the_corpus_is_rejected_by_some_check():
    broken = {entry.path.stem for entry in CORPUS_ENTRIES if entry.expected == "caught"}
    rejected = {server for _, server, _ in REJECTIONS}
    assert broken - rejected == set()
    assert rejected - broken == set()


def test_every_check_of_the_specification_is_run_here():
    modules = (echo, half_close, isolation)
    stated = {
        getattr(module, name)
        for module in modules
        for name in dir(module)
        if name.startswith("check_")
    }
    assert stated == set(CHECKS) | set(CLAIMS)


async def test_a_check_fails_on_a_server_that_is_not_there():
    # Nothing listens on a port just bound and closed again: the check says so
    # within its deadline instead of hanging or raising something else.
    probe = trio.socket.socket()
    await probe.bind(("127.0.0.1", 0))
    address = probe.getsockname()
    probe.close()
    with pytest.raises(AssertionError, match="c1: connect failed"):
        await echo.check_every_byte_value_comes_back(address, deadline=1.0)
