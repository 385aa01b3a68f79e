"""Twisted's own echo protocol, ``twisted.protocols.wire.Echo``, on 127.0.0.1: a third-party server.

    python -m benchmarks.twisted_echo --port 8007

Nothing of ours but the command line: the factory, the protocol and the
reactor are Twisted's, with their defaults (a listen backlog of 50). Needs
``pip install twisted``. ``wire.Echo`` does not enable half-close, so Twisted
closes the connection when the client shuts down its write side, dropping
echo not yet written: documented behaviour that the echo model does not allow.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from twisted.internet import protocol, reactor  # imported here so that --help works without
    from twisted.protocols.wire import Echo

    reactor.listenTCP(args.port, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
