"""The one client every echo server is measured with: blocking sockets, bounded, loopback only.

Run as a program so that it can be pinned to a CPU like the server it talks to::

    python -m benchmarks.echo_client --port 7000 [--seconds 0.3]

It prints one JSON object: round trips per second for each ping-pong size, and
streaming throughput in MB/s (10**6 bytes per second, counted one way: bytes
echoed back). Each measurement opens its own connection, half-closes it at the
end and waits for the server's EOF, so a server that serves one client at a
time (``impl.blocking_echo``) is measured like the others.

* **Ping-pong**: send ``size`` bytes, read until ``size`` bytes came back,
  repeat for ``--seconds`` after a short warm-up. One round trip in flight.
* **Streaming**: keep ``WINDOW`` bytes in flight (send when less is owed, read
  what comes back) for ``--seconds``, then stop sending and read the rest. One
  thread, ``selectors``, non-blocking socket.

Every loop is bounded by a count and by time, every socket operation by a
timeout; the address must be a loopback one.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import selectors
import socket
import sys
import time

#: Ping-pong payload sizes, in bytes.
SIZES = (1, 1024, 65536)
#: Round trips done before the clock starts.
WARM_UP = 50
#: No measurement does more round trips than this, whatever the time.
MAX_ROUND_TRIPS = 2_000_000
#: Bytes per send while streaming, and bytes allowed in flight. A smaller window
#: makes streaming latency-bound: with 256 KiB, trio on one CPU swung between
#: 70 and 700 MB/s from run to run; with 1 MiB every server was steady.
CHUNK = 65536
WINDOW = 16 * CHUNK
#: A socket operation that takes longer than this means the server is stuck.
IO_TIMEOUT = 10.0


class ServerStuck(Exception):
    """The server stopped answering within IO_TIMEOUT, or closed too early."""


def connect(host: str, port: int) -> socket.socket:
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to send traffic to {host}: loopback addresses only")
    sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def finish(sock: socket.socket) -> None:
    """Half-close, read to the server's EOF (bounded), close."""
    sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + IO_TIMEOUT
    while time.monotonic() < deadline:
        if not sock.recv(CHUNK):
            break
    sock.close()


def receive_exactly(sock: socket.socket, size: int, buffer: memoryview) -> None:
    got = 0
    while got < size:
        n = sock.recv_into(buffer[got:size])
        if n == 0:
            raise ServerStuck(f"the server closed after {got} of {size} bytes")
        got += n


def ping_pong(host: str, port: int, size: int, seconds: float) -> float:
    """Round trips per second with ``size`` bytes each way."""
    payload = bytes(i % 251 for i in range(size))
    buffer = memoryview(bytearray(size))
    sock = connect(host, port)
    try:
        for _ in range(WARM_UP):
            sock.sendall(payload)
            receive_exactly(sock, size, buffer)
        if bytes(buffer) != payload:
            raise ServerStuck("the echo differs from what was sent")
        count = 0
        started = time.perf_counter()
        stop = started + seconds
        while count < MAX_ROUND_TRIPS:
            sock.sendall(payload)
            receive_exactly(sock, size, buffer)
            count += 1
            if count % 16 == 0 and time.perf_counter() >= stop:
                break
        elapsed = time.perf_counter() - started
    except TimeoutError:
        raise ServerStuck(f"no echo within {IO_TIMEOUT} s") from None
    finally:
        try:
            finish(sock)
        except OSError:
            sock.close()
    return count / elapsed


def stream(host: str, port: int, seconds: float) -> float:
    """Echoed MB/s with WINDOW bytes in flight; all bytes sent must come back."""
    sock = connect(host, port)
    sock.setblocking(False)
    chunk = memoryview(bytes(i % 253 for i in range(CHUNK)))
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent = received = 0
    offset = 0  # into the chunk being sent
    sending = True
    registered = selectors.EVENT_READ | selectors.EVENT_WRITE
    started = time.perf_counter()
    stop = started + seconds
    last_progress = started
    try:
        while received < sent or sending:
            now = time.perf_counter()
            sending = sending and now < stop
            if now - last_progress > IO_TIMEOUT:
                raise ServerStuck(f"streaming: no progress for {IO_TIMEOUT} s")
            want_write = sending and sent - received < WINDOW
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
            if wanted != registered:
                selector.modify(sock, wanted)
                registered = wanted
            for _, events in selector.select(timeout=1.0):
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(4 * CHUNK)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        raise ServerStuck("streaming: the server closed early")
                    if data:
                        received += len(data)
                        last_progress = time.perf_counter()
                if events & selectors.EVENT_WRITE and want_write:
                    try:
                        n = sock.send(chunk[offset:])
                    except BlockingIOError:
                        n = 0
                    sent += n
                    offset = (offset + n) % CHUNK
        elapsed = time.perf_counter() - started
    finally:
        selector.close()
        sock.setblocking(True)
        sock.settimeout(IO_TIMEOUT)
        try:
            finish(sock)
        except OSError:
            sock.close()
    return received / elapsed / 1e6


def measure(host: str, port: int, seconds: float) -> dict[str, float]:
    figures = {f"pingpong_{size}": ping_pong(host, port, size, seconds) for size in SIZES}
    figures["stream_mb_s"] = stream(host, port, seconds)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=0.3, help="per measurement")
    args = parser.parse_args(argv)
    try:
        figures = measure(args.host, args.port, args.seconds)
    except (ServerStuck, OSError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
