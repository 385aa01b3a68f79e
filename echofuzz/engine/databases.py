"""Where a campaign keeps the failures it finds: nowhere, a directory, or Redis.

Hypothesis saves every failing test case in its example database and replays
those first on the next run (its "reuse" phase), before generating anything
new. Pointed at a shared place, that turns separate runs into one search: a
failure found by one pytest-xdist worker, or on one CI machine, is the first
thing every other run tries. A directory serves the workers of one machine (or
machines sharing a file system); Redis serves machines that share nothing else.

The choice is spelled as one string so that the command line and the pytest
plugin accept the same thing:

>>> open_database("none") is None
True
>>> open_database("")
Traceback (most recent call last):
    ...
echofuzz.engine.databases.DatabaseError: --database needs DIR, redis://HOST:PORT or none

The default everywhere is ``none``: a run is then fully described by its seed
and options, so that "rerun with --seed N" means exactly that. Entries are
keyed by Hypothesis from the machine's source; failures found against one
server are also tried first against another, which is harmless and often
informative.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

#: Keys of echofuzz entries in a Redis shared with other users of Hypothesis.
REDIS_PREFIX = b"echofuzz-example:"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: How long to wait for Redis before calling it unreachable.
REDIS_TIMEOUT = 3.0
#: What the Redis client raises, besides its InvalidResponse, when the other end speaks
#: something else: an echo server's copy of the handshake comes back as the wrong type.
NOT_REDIS_ERRORS = (AttributeError, TypeError, ValueError, IndexError, KeyError)


class DatabaseError(Exception):
    """The database option cannot be honoured; the message is one line for the user."""


def open_database(spec: str | None) -> ExampleDatabase | None:
    """``none`` (or None) for no database, a ``redis://`` URL, or a directory path."""
    if spec is None or spec.strip().lower() == "none":
        return None
    if not spec.strip():
        raise DatabaseError("--database needs DIR, redis://HOST:PORT or none")
    if spec.startswith(REDIS_SCHEMES):
        return _redis_database(spec)
    return _directory_database(Path(spec).expanduser())


def close_database(database: ExampleDatabase | None) -> None:
    """Release what a database holds open (a Redis client's connections); others hold nothing."""
    if isinstance(database, SurvivingDatabase):
        database = database.inner
    client = getattr(database, "redis", None)
    if client is not None:
        client.close()


def warn_on_stderr(message: str) -> None:
    print(f"echofuzz: warning: {message}", file=sys.stderr, flush=True)


class SurvivingDatabase(ExampleDatabase):
    """A shared database that may go away mid-run (Redis restarted, the network gone).

    Losing it must not end the run, and must not pass in silence either: the
    first error is reported once, through ``warn``, saying that the run goes on
    without it and that what it finds from then on is not stored; after that
    the database is treated as empty and writes are dropped.
    """

    def __init__(
        self,
        inner: ExampleDatabase,
        where: str,
        errors: tuple[type[BaseException], ...],
        warn: Callable[[str], None] = warn_on_stderr,
    ) -> None:
        super().__init__()
        self.inner, self.where, self.errors, self.warn = inner, where, errors, warn
        #: Why it was given up, once it has been.
        self.lost: str | None = None

    def _give_up(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = _one_line(exc)
            self.warn(
                f"the example database at {self.where} stopped answering ({self.lost}); "
                "the run goes on without it, and what it finds from now on is not stored there"
            )

    def fetch(self, key: bytes) -> Iterable[bytes]:
        if self.lost is None:
            try:
                return list(self.inner.fetch(key))
            except self.errors as exc:
                self._give_up(exc)
        return []

    def _write(self, write: Callable[[], None]) -> None:
        if self.lost is None:
            try:
                write()
            except self.errors as exc:
                self._give_up(exc)

    def save(self, key: bytes, value: bytes) -> None:
        self._write(lambda: self.inner.save(key, value))

    def delete(self, key: bytes, value: bytes) -> None:
        self._write(lambda: self.inner.delete(key, value))

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._write(lambda: self.inner.move(src, dest, value))


def _directory_database(path: Path) -> ExampleDatabase:
    if path.exists() and not path.is_dir():
        raise DatabaseError(f"the example database {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(
            f"cannot create the example database {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return DirectoryBasedExampleDatabase(path)


def _redis_database(url: str) -> ExampleDatabase:
    """Imported lazily: redis is an optional extra, and most runs never need it."""
    try:
        redis: Any = importlib.import_module("redis")
        extra: Any = importlib.import_module("hypothesis.extra.redis")
    except ImportError:
        raise DatabaseError(
            f"--database {url} needs the redis package: pip install 'demystify-async[redis]'"
        ) from None
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
    except ValueError as exc:
        raise DatabaseError(f"bad Redis URL {url!r}: {exc}") from None
    try:
        answered = client.ping()
    except (redis.InvalidResponse, *NOT_REDIS_ERRORS) as exc:
        client.close()
        raise DatabaseError(
            f"the example database at {url} is not a Redis server: "
            f"its answer made no sense to the client ({_one_line(exc)})"
        ) from None
    except redis.RedisError as exc:
        client.close()
        reason = _one_line(exc)
        raise DatabaseError(f"cannot reach the example database at {url}: {reason}") from None
    if answered is not True:
        client.close()
        raise DatabaseError(
            f"the example database at {url} is not a Redis server: it did not answer PING with PONG"
        )
    inner: ExampleDatabase = extra.RedisExampleDatabase(client, key_prefix=REDIS_PREFIX)
    return SurvivingDatabase(inner, url, (redis.RedisError, OSError))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
