"""The standard library's socketserver echo, as its documentation writes it: a third-party stand-in.

    python -m benchmarks.stdlib_socketserver_echo --port 8007

``ThreadingTCPServer`` with every default kept, ``request_queue_size`` (the
listen backlog) of 5 included: the server that issue #12 found falsely
accused. Unlike ``tests/corpus/correct_socketserver.py`` it does not raise the
backlog and adds nothing of its own, so that ``benchmarks.false_alarms`` runs
the library as users get it. It prints nothing; it listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while chunk := self.request.recv(65536):
                self.request.sendall(chunk)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", args.port), EchoHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
