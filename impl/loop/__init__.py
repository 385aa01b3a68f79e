"""The sequel: futures, tasks, events, timers and a selector loop, written out in full.

Layout, one concept per module:

- ``futures``: ``Future`` (a value set once, awaitable by yielding itself) and
  ``Task`` (a Future that drives a coroutine with ``send``/``throw``).
- ``core``: the ``Loop`` with its dispatch table, ``run`` (the one way in),
  ``sleep`` and the other traps. Its docstring lists the design principles.
- ``sync``: ``Event``.
- ``timers``: the timer heap (deadline order, ties first-come first-served).
- ``clock``: real and virtual time.
- ``sockets``: ``accept``, ``recv`` and ``sendall`` on non-blocking sockets.
"""

from __future__ import annotations

from impl.loop.clock import Clock, MonotonicClock, VirtualClock
from impl.loop.core import Deadlock, Loop, now, run, sleep, sleep_until, yield_now
from impl.loop.futures import CancelledError, Future, InvalidStateError, Task
from impl.loop.sockets import accept, recv, sendall, wait_readable, wait_writable
from impl.loop.sync import Event
from impl.loop.timers import TimerHeap

__all__ = [
    "CancelledError",
    "Clock",
    "Deadlock",
    "Event",
    "Future",
    "InvalidStateError",
    "Loop",
    "MonotonicClock",
    "Task",
    "TimerHeap",
    "VirtualClock",
    "accept",
    "now",
    "recv",
    "run",
    "sendall",
    "sleep",
    "sleep_until",
    "wait_readable",
    "wait_writable",
    "yield_now",
]
