"""The oracle: an echo server that obeys the echo model, written the plainest way trio allows.

Every observation the fuzzer makes of a server under test is compared with the
same observation of this server, run in-process on the fuzzer's own trio loop.
It is correct by construction rather than by cleverness:

- one task per connection, so a stalled or dead client cannot hold up another;
- ``send_all`` finishes before the next ``receive_some``, which is flow control:
  a client that does not read makes the oracle stop reading from it;
- end of input (the client's half-close) leaves the loop only after everything
  received was sent, then ``aclose`` sends FIN;
- a reset or broken pipe ends that connection's task and nothing else;
- ``trio.serve_tcp`` keeps accepting, and rides out ``EMFILE`` by itself.

That the oracle obeys the model is itself checked: the fuzzer applies the
model's invariants to the oracle's observations at every step, and the tests
fuzz the oracle against a second copy of itself.
"""

from __future__ import annotations

from functools import partial

import trio

#: Largest read per ``receive_some``; any value is correct, larger is faster.
CHUNK = 65536


async def echo_connection(stream: trio.SocketStream) -> None:
    """Echo one connection until the client's EOF, then close cleanly."""
    try:
        while True:
            data = await stream.receive_some(CHUNK)
            if not data:
                break
            await stream.send_all(data)
    except trio.BrokenResourceError:
        pass  # the client reset or vanished: only this connection ends
    finally:
        await stream.aclose()


class EchoOracle:
    """An in-process trio echo server; ``await oracle.start(nursery)`` gives its address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0

    async def start(self, nursery: trio.Nursery) -> tuple[str, int]:
        serve = partial(trio.serve_tcp, echo_connection, 0, host=self.host)
        listeners: list[trio.SocketListener] = await nursery.start(serve)
        self.port = int(listeners[0].socket.getsockname()[1])
        return self.host, self.port
