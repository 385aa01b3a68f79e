"""The oracle obeys the echo model: fuzzed against both of its renditions, and checked directly.

The fuzzer itself reaches the oracle through socketpairs; fuzzing the TCP
renditions as targets therefore also checks that the two transports agree.
"""

import contextlib
import socket

import pytest
import trio

from echofuzz.engine.campaign import Campaign
from echofuzz.engine.oracle import EchoOracle, StreamEchoOracle, paired_connection
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.targets import AddressTarget
from echofuzz.options import FuzzOptions
from tests.echo_targets import describe

RENDITIONS = pytest.mark.parametrize("oracle_class", [EchoOracle, StreamEchoOracle])


@RENDITIONS
def test_the_oracle_fuzzed_against_either_rendition_never_diverges_from_the_model(oracle_class):
    with TrioThread() as portal:
        address = portal.call(oracle_class().start, portal.nursery)
        options = FuzzOptions(max_examples=40, seed=1, deadline=2.0, max_payload=1 << 20)
        result = Campaign(AddressTarget(address), options).run()
    assert result.verdict == "pass", describe(result)
    assert result.examples >= 40
    assert result.steps > result.examples


@RENDITIONS
async def test_the_oracle_echoes_then_closes_cleanly_after_a_half_close(oracle_class):
    async with trio.open_nursery() as nursery:
        host, port = await oracle_class().start(nursery)
        stream = await trio.open_tcp_stream(host, port)
        payload = bytes(range(256)) * 1000
        await stream.send_all(payload)
        await stream.send_eof()
        received = bytearray()
        with trio.fail_after(10):
            while chunk := await stream.receive_some():
                received += chunk
        assert received == payload
        await stream.aclose()
        nursery.cancel_scope.cancel()


@RENDITIONS
async def test_a_reset_client_does_not_stop_the_oracle_serving_others(oracle_class):
    async with trio.open_nursery() as nursery:
        host, port = await oracle_class().start(nursery)
        victim = trio.socket.socket()
        await victim.connect((host, port))
        await victim.send(b"x" * 100_000)
        victim.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        victim.close()
        stream = await trio.open_tcp_stream(host, port)
        await stream.send_all(b"still here")
        with trio.fail_after(10):
            assert await stream.receive_some() == b"still here"
        await stream.aclose()
        nursery.cancel_scope.cancel()


@RENDITIONS
async def test_a_client_that_never_reads_holds_up_only_itself(oracle_class):
    async with trio.open_nursery() as nursery:
        host, port = await oracle_class().start(nursery)
        hog = trio.socket.socket()
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await hog.connect((host, port))
        sent = 0
        with trio.move_on_after(2) as pushed_back:
            while sent < 1 << 30:
                sent += await hog.send(b"x" * 65536)
        # The oracle stopped reading once it could not send: the kernel buffers
        # (tens of MiB at most here) filled and the writes blocked.
        assert pushed_back.cancelled_caught
        assert sent < 128 << 20
        stream = await trio.open_tcp_stream(host, port)
        await stream.send_all(b"others still served")
        with trio.fail_after(10):
            assert await stream.receive_some() == b"others still served"
        await stream.aclose()
        hog.close()
        nursery.cancel_scope.cancel()


async def test_the_paired_oracle_echoes_everything_and_ends_with_eof_however_the_client_leaves():
    async with trio.open_nursery() as nursery:
        payload = bytes(range(256)) * 4000  # more than a socketpair buffers
        # A reset client first (unread echoes, then close): only its own task ends.
        reset = paired_connection(nursery)
        reset.send(b"x" * 1000)
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        await trio.sleep(0.01)
        reset.close()
        client = paired_connection(nursery)
        view = memoryview(payload)
        received = bytearray()
        eof = False
        with trio.fail_after(10):
            while not eof:
                if view:
                    with contextlib.suppress(BlockingIOError):
                        view = view[client.send(view[:65536]) :]
                    if not view:
                        client.shutdown(socket.SHUT_WR)
                try:
                    chunk = client.recv(65536)
                except BlockingIOError:
                    await trio.sleep(0)  # the oracle runs on this loop
                    continue
                received += chunk
                eof = not chunk
        assert received == payload
        client.close()
        nursery.cancel_scope.cancel()
