"""Headless Chromium driven over the DevTools protocol, with nothing but the standard library.

Enough of a WebSocket client (RFC 6455: masked text frames out, fragmented
frames and pings in) to send DevTools commands and collect the events that
tell whether a page threw, logged an error or fetched anything. Every wait is
bounded by one deadline per call; the browser listens on 127.0.0.1 only.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
#: The flags that keep Chromium off the network and out of the user's profile.
QUIET_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
]
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def have_chromium():
    return os.access(CHROMIUM, os.X_OK)


class DevToolsError(Exception):
    pass


class WebSocket:
    """A client WebSocket for text messages, over a socket with a timeout on every read."""

    def __init__(self, port, path, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise DevToolsError("the browser closed the connection during the handshake")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        status, *fields = head.decode("latin-1").split("\r\n")
        if " 101 " not in status + " ":
            raise DevToolsError(f"no WebSocket upgrade: {status}")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        answered = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
        if answered.get("sec-websocket-accept") != accept:
            raise DevToolsError("wrong Sec-WebSocket-Accept")

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise DevToolsError("the browser closed the DevTools connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def receive(self):
        """The next whole text message (pings answered, fragments joined)."""
        parts = []
        while True:
            first, second = self._read(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._read(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if second & 0x80 else b""
            payload = self._read(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise DevToolsError("the browser closed the DevTools connection")
            if opcode in (0x0, 0x1):
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        self.sock.close()


class Browser:
    """One headless Chromium with one page, attached over DevTools; a context manager."""

    def __init__(self, workdir, timeout=60.0):
        self.timeout = timeout
        self.profile = Path(workdir) / "profile"
        self.profile.mkdir()
        self.log = open(Path(workdir) / "chromium.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                *QUIET_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1200,1600",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        self.next_id = 0
        self.events = []
        self.session = None
        try:
            port, path = self._wait_for_port()
            self.ws = WebSocket(port, path, timeout)
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _wait_for_port(self):
        """Chromium writes the port it chose, and the browser's path, to DevToolsActivePort."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DevToolsError(f"chromium exited with status {self.proc.returncode}")
            if marker.exists():
                lines = marker.read_text().split()
                if len(lines) >= 2:
                    return int(lines[0]), lines[1]
            time.sleep(0.05)
        raise DevToolsError("chromium did not open its DevTools port in time")

    def call(self, method, **params):
        """Send one command and wait for its answer, keeping the events that come first."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            answer = json.loads(self.ws.receive())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)
        raise DevToolsError(f"{method}: no answer in time")

    def wait_for(self, event, since):
        """The first ``event`` among the events from index ``since`` on, waiting if need be."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for seen in self.events[since:]:
                if seen["method"] == event:
                    return seen
            answer = json.loads(self.ws.receive())
            if "method" in answer:
                self.events.append(answer)
        raise DevToolsError(f"no {event} in time")

    def load(self, url):
        """Open ``url`` and wait for its load event; the events from here on are its."""
        start = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", start)
        # A round trip after the load event lets late console messages arrive.
        self.evaluate("1")
        return start

    def evaluate(self, expression):
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise DevToolsError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self):
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def problems(self, since, page_url):
        """Script errors, console errors and fetches of anything but the page, since ``since``."""
        found = []
        for event in self.events[since:]:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                found.append(f"uncaught: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url != page_url:
                    found.append(f"fetched: {url}")
        return found

    def close(self):
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def screenshot(url, out, workdir, timeout=60.0):
    """Chromium's own ``--screenshot`` of ``url`` at 1200x1600; the completed process."""
    profile = Path(workdir) / "shot-profile"
    profile.mkdir()
    try:
        return subprocess.run(
            [
                CHROMIUM,
                *QUIET_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                "--window-size=1200,1600",
                "--hide-scrollbars",
                url,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_size(data):
    """Width and height from a PNG's IHDR chunk (ValueError when it is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack("!II", data[16:24])
