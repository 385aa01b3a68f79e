"""The client side on the wire, with the standard library only: what a reproduction runs on.

This module owns what every replay of a step must agree on: the bytes of a
generated payload, how long a transfer may take, what the end-of-case probe
sends, and a blocking client that runs steps against an address and judges
them with the echo model (``echofuzz.model``). The fuzzer's trio client uses
the same payloads, allowances and probe; a written reproduction script
(``echofuzz.outputs.script``) inlines this module and the model whole, so that
whoever owns the server can run it with nothing but Python: no trio, no
Hypothesis, no oracle. ``tests/test_wire.py`` holds the two clients to the
same verdicts.

Every wait is bounded by the deadline (plus an allowance for large payloads).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable

from echofuzz.model import HalfClose, Ledger, RemoteState, settled_problem

#: Bytes per second a correct server is assumed to sustain on loopback, used to
#: stretch deadlines for large payloads (deliberately pessimistic).
ASSUMED_THROUGHPUT = 5_000_000
#: A slow reader's server has felt back-pressure once nothing moves for this long (s)...
BACK_PRESSURE_QUIET = 0.05
#: ...or for this long, once it has visibly stopped reading (see ``BackPressureWatch``).
BACK_PRESSURE_AT_REST = 0.01
#: How often a slow reader's progress is looked at while it waits (s).
BACK_PRESSURE_SAMPLE = 0.002
#: Receive-buffer size a slow reader asks for, so that flow control bites early.
SLOW_READER_RCVBUF = 4096
#: Descriptors to ask for when the hard limit is unlimited.
DESCRIPTORS_WANTED = 65536
#: What the end-of-case probe sends on a fresh connection.
PROBE = b"echofuzz probe\n"


def generated_bytes(size: int, seed: int, salt: str) -> bytes:
    """The payload named by (size, seed, salt).

    The salt is the name of the connection the payload was generated for, so
    that equal seeds on two connections still differ, which keeps crosstalk
    between connections visible after shrinking. It is kept with the payload
    (not taken from wherever the payload is sent later), so renaming
    connections in a reproduction never changes its bytes. String seeds are
    hashed with SHA-512 by ``random``, stable across Python versions.
    """
    return random.Random(f"{seed}:{salt}").randbytes(size)


def payload_bytes(payload: dict[str, object], conn: str) -> bytes:
    """Decode a payload's JSON form: literal bytes as hex, or a generated one."""
    if "hex" in payload:
        return bytes.fromhex(str(payload["hex"]))
    size, seed = payload["size"], payload["seed"]
    assert isinstance(size, int) and isinstance(seed, int)
    return generated_bytes(size, seed, str(payload.get("salt") or conn))


def raise_descriptor_limit() -> int:
    """Let this process open as many sockets as the hard limit allows; the new soft limit.

    A crowd step opens a thousand connections and more; the client must not run
    out of descriptors before the server under test does.
    """
    try:
        import resource  # Unix only
    except ImportError:
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, DESCRIPTORS_WANTED)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft
        return wanted
    return soft


def kernel_queues(sock: socket.socket) -> tuple[int, int] | None:
    """Bytes in ``sock``'s receive queue and in its send queue, or None where unknown."""
    try:
        import fcntl
        import termios

        fd = sock.fileno()
        unread = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")  # SIOCINQ
        unacked = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ
    except (ImportError, AttributeError, OSError):
        return None
    return struct.unpack("i", unread)[0], struct.unpack("i", unacked)[0]


def proc_net_address(address: tuple[str, int]) -> str:
    """An address as Linux's ``/proc/net/tcp*`` prints it: 32-bit words in native order, hex."""
    host, port = address[0], address[1]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    raw = socket.inet_pton(family, host)
    words = struct.unpack(f"={len(raw) // 4}I", raw)
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def peer_queues(sock: socket.socket) -> tuple[int, int] | None:
    """The server's side of a loopback connection: bytes it has not read yet, and not sent yet.

    A server on this machine shows its socket in ``/proc/net/tcp``, with the
    queues of the socket: what the server has left unread, and what it has
    written that is not yet taken. None when no such row is found (another
    machine, another network namespace, not Linux). The table lists every
    socket, thousands after a crowd (its closed connections wait out
    TIME_WAIT), so the row is found by a text search, not by parsing them all.
    """
    try:
        mine, theirs = sock.getsockname(), sock.getpeername()
        table = "/proc/net/tcp6" if sock.family == socket.AF_INET6 else "/proc/net/tcp"
        key = f" {proc_net_address(theirs)} {proc_net_address(mine)} "
        with open(table, encoding="ascii") as rows:
            text = rows.read()
        at = text.find(key)
        if at < 0:
            return None
        fields = text[at + len(key) : text.find("\n", at)].split()
        sent, unread = fields[1].split(":")
        return int(unread, 16), int(sent, 16)
    except (OSError, ValueError, IndexError):
        return None


class BackPressureWatch:
    """When a slow reader may go on: its server has felt the back-pressure.

    A slow reader's step means "the server has met a client that does not
    read": a correct server has stopped reading, a broken one has done whatever
    it does when its sends would block. Without a wait, that moment would
    depend on how long the next steps happen to take. What can be seen is
    motion: bytes the client writes, the client's queues, and (for a server on
    this machine, through ``/proc/net/tcp``) the server socket's queues, which
    shrink as the server reads and change as it writes. Once all of it is at
    rest the server is at rest too, blocked or done. Motion on loopback comes
    in microseconds, so ``BACK_PRESSURE_AT_REST`` of stillness is plenty once
    the server can be seen to have read some of it and begun to echo, or to
    have stopped reading (echo waits unread here, and our send queue holds
    bytes its kernel will not take). Otherwise its kernel may have taken every
    byte while the server is still reading them, with its echo piling up in
    its own send buffer, and none of that shows here: then it gets
    ``BACK_PRESSURE_QUIET``.
    """

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.seen: tuple[int, ...] = ()
        self.since = now
        #: The server's queues as last read since this side came to rest (None: not
        #: read yet, or not to be found), and when they were read.
        self.peer: tuple[int, int] | None = None
        self.peer_read: float | None = None

    def pause(self, written: int, now: float) -> float | None:
        """None once at rest; otherwise how long to wait before looking again.

        The server's row is read only when this side has stood still for
        ``BACK_PRESSURE_AT_REST``, and again one such period later: two
        reads of the table per slow reader, not one per look.
        """
        queues = kernel_queues(self.sock)
        seen = (written, *(queues or ()))
        if seen != self.seen:
            self.seen, self.since, self.peer, self.peer_read = seen, now, None, None
        still = now - self.since
        if still < BACK_PRESSURE_AT_REST:
            return min(BACK_PRESSURE_SAMPLE, BACK_PRESSURE_AT_REST - still)
        if queues is not None and queues[0] > 0 and queues[1] > 0:
            return None  # pushed back: echo waits unread here, and the server takes no more
        due = self.peer_read is None or now - self.peer_read >= BACK_PRESSURE_AT_REST
        if queues is not None and due:
            peer = peer_queues(self.sock)
            # Between two looks the server read nothing more (all of it, or some and
            # then stopped) and wrote nothing more: it is done, or blocked. Its send
            # queue may shrink meanwhile, as its kernel trickles bytes into our window
            # with no help from the server. One that has not read a byte yet, or has
            # read but not yet echoed (nothing in its send queue, nothing here), may
            # not have been scheduled since: it gets the long quiet.
            before = self.peer
            if (
                peer is not None
                and before is not None
                and peer[0] == before[0] < written
                and peer[1] <= before[1]
                and (peer[1] > 0 or queues[0] > 0)
            ):
                return None
            self.peer, self.peer_read = peer, now
        if still >= BACK_PRESSURE_QUIET:
            return None
        return min(BACK_PRESSURE_AT_REST, BACK_PRESSURE_QUIET - still)


def allowance(deadline: float, nbytes: int) -> float:
    """Seconds to wait for ``nbytes`` to travel: the base deadline plus transfer time."""
    return deadline + nbytes / ASSUMED_THROUGHPUT


class Divergence(Exception):
    """The server did something a correct echo server never does."""


class ReplayConnection:
    """A client connection with a reader thread that records what comes back."""

    def __init__(
        self,
        name: str,
        address: tuple[str, int],
        deadline: float,
        rcvbuf: int = 0,
        reading: bool = True,
    ) -> None:
        self.name = name
        self.ledger = Ledger()
        self.changed = threading.Condition()
        #: Cleared for a slow reader before its reader thread starts: cleared after, the
        #: thread may already sit in ``recv`` and read the echo the step leaves unread.
        self.reading = threading.Event()
        if reading:
            self.reading.set()
        self.closed = False
        self.writer: threading.Thread | None = None
        self.write_error: str | None = None
        self.written = 0
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(deadline)
        try:
            self.sock.connect(address)
        except OSError as exc:
            self.sock.close()
            raise Divergence(f"{name}: connect failed: {exc}") from None
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            self.reading.wait()
            if self.closed:
                return
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                # Not the server's doing: ``send`` gives the shared socket a timeout
                # (and so a non-blocking descriptor) while it writes, and a read begun
                # then may time out while the echo is still on its way.
                continue
            except OSError:
                outcome: RemoteState = "reset"
                data = b""
            else:
                outcome = "eof"
            with self.changed:
                if data:
                    self.ledger.received += data
                else:
                    if self.ledger.remote == "open":
                        self.ledger.remote = outcome
                    self.changed.notify_all()
                    return
                self.changed.notify_all()

    def send(self, data: bytes, deadline: float) -> None:
        with self.changed:
            self.ledger.sent += data
        self.sock.settimeout(allowance(deadline, len(data)))
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise Divergence(f"{self.name}: sending {len(data)} bytes failed: {exc}") from None
        finally:
            self.sock.settimeout(None)

    def send_in_background(self, data: bytes) -> None:
        with self.changed:
            self.ledger.sent += data

        def write() -> None:
            view = memoryview(data)
            try:
                while view:
                    sent = self.sock.send(view[:65536])
                    self.written += sent
                    view = view[sent:]
            except OSError as exc:
                self.write_error = str(exc)

        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def wait_for_back_pressure(self, timeout: float) -> None:
        """Return once the server has felt the back-pressure (``BackPressureWatch``).

        A reproduction is run to show a bug again, not to be fast: it also waits
        ``BACK_PRESSURE_QUIET`` at least, so that a server the fuzzer saw reach
        the edge in time (a reset that meets echo in flight) reaches it here too.
        """
        now = time.monotonic()
        limit, soonest = now + timeout, now + BACK_PRESSURE_QUIET
        watch = BackPressureWatch(self.sock, now)
        while now < limit:
            pause = watch.pause(self.written, now)
            if pause is None:
                if now >= soonest:
                    return
                pause = soonest - now  # at rest early: look again once the floor is reached
            time.sleep(min(pause, max(0.0, limit - now)))
            now = time.monotonic()

    def settle(self, deadline: float, until_eof: bool, half_close: HalfClose = "echo") -> None:
        """Wait for every echo (and EOF if asked), then judge what came back by the model."""
        self.reading.set()
        limit = time.monotonic() + allowance(deadline, len(self.ledger.sent))
        if self.writer is not None:
            self.writer.join(max(0.0, limit - time.monotonic()))
            if self.write_error is not None:
                raise Divergence(f"{self.name}: background send failed: {self.write_error}")

        def done() -> bool:
            ledger = self.ledger
            if ledger.remote != "open":
                return True
            return not until_eof and len(ledger.received) >= len(ledger.sent)

        with self.changed:
            self.changed.wait_for(done, max(0.0, limit - time.monotonic()))
            problem = settled_problem(self.name, self.ledger, until_eof, half_close)
        if problem is not None:
            raise Divergence(problem)

    def close(self, abortive: bool) -> None:
        self.closed = True  # a paused reader, woken below, must not drain what is unread
        if abortive:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.reading.set()
        # Wake the reader thread first: a socket closed under a blocked recv() is not
        # released (and sends neither FIN nor RST) until that recv() returns.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)
        self.reader.join(1.0)
        self.sock.close()


def run_steps(
    address: tuple[str, int],
    steps: list[dict[str, object]],
    deadline: float,
    half_close: HalfClose = "echo",
) -> str | None:
    """Run ``steps`` (their JSON form) against ``address``; the first divergence, or None.

    ``half_close`` is what the server was declared to do on a client's half-close.
    """
    conns: dict[str, ReplayConnection] = {}

    def conn(step: dict[str, object]) -> ReplayConnection:
        return conns[str(step["conn"])]

    def payload(step: dict[str, object], name: str) -> bytes:
        value = step["payload"]
        assert isinstance(value, dict)
        return payload_bytes(value, name)

    def connect(step: dict[str, object]) -> None:
        name = str(step["conn"])
        conns[name] = ReplayConnection(name, address, deadline)

    def send(step: dict[str, object]) -> None:
        conn(step).send(payload(step, str(step["conn"])), deadline)

    def expect(step: dict[str, object]) -> None:
        conn(step).settle(deadline, until_eof=False)

    def end_writing(step: dict[str, object]) -> None:
        c = conns.pop(str(step["conn"]))
        try:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise Divergence(f"{c.name}: half-close failed: {exc}") from None
            c.settle(deadline, until_eof=True, half_close=half_close)
        finally:
            c.close(abortive=False)

    def close(step: dict[str, object]) -> None:
        c = conns.pop(str(step["conn"]))
        try:
            if c.reading.is_set():  # not a slow reader: its echoes come back first
                c.settle(deadline, until_eof=False)
        finally:
            c.close(abortive=False)

    def reset(step: dict[str, object]) -> None:
        c = conns.pop(str(step["conn"]))
        try:
            if c.reading.is_set():  # not a slow reader: its echoes come back first
                c.settle(deadline, until_eof=False)
        finally:
            c.close(abortive=True)

    def connect_reset(step: dict[str, object]) -> None:
        name = str(step["conn"])
        conns[name] = ReplayConnection(name, address, deadline)
        conns.pop(name).close(abortive=True)

    def burst(step: dict[str, object]) -> None:
        sends = step["sends"]
        assert isinstance(sends, list)
        for name, value in sends:
            conns[name].send(payload_bytes(value, name), deadline)
        for name, _ in sends:
            conns[name].settle(deadline, until_eof=False)

    def slow_start(step: dict[str, object]) -> None:
        name = str(step["conn"])
        rcvbuf = step.get("rcvbuf", SLOW_READER_RCVBUF)
        assert isinstance(rcvbuf, int)
        c = ReplayConnection(name, address, deadline, rcvbuf=rcvbuf, reading=False)
        conns[name] = c
        data = payload(step, name)
        c.send_in_background(data)
        c.wait_for_back_pressure(allowance(deadline, len(data)))

    def slow_drain(step: dict[str, object]) -> None:
        c = conn(step)
        c.reading.set()
        c.settle(deadline, until_eof=False)

    def crowd(step: dict[str, object]) -> None:
        name, count = str(step["conn"]), step["count"]
        assert isinstance(count, int)
        raise_descriptor_limit()
        members: list[ReplayConnection] = []
        try:
            for number in range(1, count + 1):
                member = ReplayConnection(f"{name}.{number}", address, deadline)
                members.append(member)
            for number, member in enumerate(members, 1):
                member.send(f"crowd {name} member {number}\n".encode(), deadline)
            for member in members:
                member.settle(deadline, until_eof=False)
        except Divergence as exc:
            raise Divergence(f"{name}: in a crowd of {count} connections: {exc}") from None
        finally:
            for member in members:
                member.close(abortive=False)

    def finish(step: dict[str, object]) -> None:
        for name in list(conns):
            conns[name].reading.set()
            end_writing({"conn": name})
        connect({"conn": "probe"})
        conns["probe"].send(PROBE, deadline)
        if half_close == "close":  # declared to close at once: ask for the echo first
            conns["probe"].settle(deadline, until_eof=False)
            conns.pop("probe").close(abortive=False)
        else:
            end_writing({"conn": "probe"})

    dispatch: dict[str, Callable[[dict[str, object]], None]] = {
        "connect": connect,
        "send": send,
        "expect": expect,
        "half_close": end_writing,
        "close": close,
        "reset": reset,
        "connect_reset": connect_reset,
        "burst": burst,
        "slow_start": slow_start,
        "slow_drain": slow_drain,
        "crowd": crowd,
        "finish": finish,
    }
    try:
        for step in steps:
            dispatch[str(step["op"])](step)
    except Divergence as exc:
        return str(exc)
    except OSError as exc:  # anything the server did that the steps above did not expect
        return f"socket error: {exc}"
    finally:
        for c in conns.values():
            c.close(abortive=True)
    return None


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6HOST]:PORT`` to a socket address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main(
    argv: list[str] | None = None,
    steps: list[dict[str, object]] | None = None,
    deadline: float | None = None,
    half_close: HalfClose = "echo",
) -> int:
    """A reproduction's command line: exit 1 if the steps diverge, 0 if not, 2 on bad input.

    ``steps`` and ``deadline`` are the ones a written script embeds; ``--steps``
    and ``--deadline`` override them.
    """
    parser = argparse.ArgumentParser(description="Replay an echofuzz reproduction.")
    parser.add_argument("address", help="HOST:PORT of the echo server")
    parser.add_argument("--steps", help="a JSON file of steps (default: the embedded ones)")
    parser.add_argument("--deadline", type=float, default=deadline or 1.0)
    parser.add_argument("--half-close", choices=("echo", "close"), default=half_close)
    args = parser.parse_args(argv)
    try:
        address = parse_address(args.address)
        if not (args.deadline > 0 and args.deadline < float("inf")):
            raise ValueError(f"the deadline is a positive number of seconds, not {args.deadline}")
        if args.steps:
            with open(args.steps, encoding="utf-8") as f:
                steps = json.load(f)
        if steps is None:
            raise ValueError("no steps: pass --steps FILE")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reason = run_steps(address, steps, args.deadline, args.half_close)
    if reason is None:
        print("did not reproduce: the server behaved as an echo server throughout")
        return 0
    print(f"reproduced: {reason}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
