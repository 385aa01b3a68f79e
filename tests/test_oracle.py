"""The oracle obeys the echo model: fuzzed against a second copy of itself, and checked directly."""

import socket

import trio

from spec.echo.fuzzer import Campaign, FuzzOptions
from spec.echo.oracle import EchoOracle
from spec.echo.portal import TrioThread
from spec.echo.targets import AddressTarget
from tests.echo_targets import describe


def test_the_oracle_fuzzed_against_itself_never_diverges_from_the_model():
    with TrioThread() as portal:
        address = portal.call(EchoOracle().start, portal.nursery)
        options = FuzzOptions(max_examples=40, seed=1, deadline=2.0, max_payload=1 << 20)
        result = Campaign(AddressTarget(address), options).run()
    assert result.verdict == "pass", describe(result)
    assert result.examples >= 40
    assert result.steps > result.examples


async def test_the_oracle_echoes_then_closes_cleanly_after_a_half_close():
    async with trio.open_nursery() as nursery:
        host, port = await EchoOracle().start(nursery)
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


async def test_a_reset_client_does_not_stop_the_oracle_serving_others():
    async with trio.open_nursery() as nursery:
        host, port = await EchoOracle().start(nursery)
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
