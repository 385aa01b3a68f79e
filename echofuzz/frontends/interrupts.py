"""Stopping a campaign cleanly on Ctrl-C, SIGTERM or SIGHUP (exit 128 + the signal number).

Stopping needs care because the fuzzer's I/O happens on a trio loop in another
thread: a ``KeyboardInterrupt`` that lands while the main thread waits for a hop
into that loop would leave the hop's task running on, unsupervised, and the next
step would race it -- a bogus divergence. Landing inside Hypothesis's engine or
a garbage-collector callback is no better (an internal error, or an interrupt
Python prints and drops). ``InterruptGuard`` therefore defers the interrupt to
the next step boundary, except while waiting for a server to start listening; a
third Ctrl-C is obeyed at once, wherever it lands.

Execution checks the guard too: a test case runs in one hop, and the trio side
asks the campaign's ``stop_requested`` (the guard's ``pending``) between steps,
so an interrupt ends the case after the step in progress rather than after the
whole case.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import TYPE_CHECKING

from echofuzz.engine.targets import Target, wait_until_accepting
from echofuzz.options import FuzzOptions
from echofuzz.result import FuzzResult

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

#: Ctrl-C presses after which echofuzz stops at once, even in the middle of a hop.
INSISTENT_INTERRUPTS = 3
#: Signals that stop a run cleanly, like Ctrl-C.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _raise_safe_code() -> frozenset[CodeType]:
    """Code that only waits for a server to listen: an interrupt may land there at once.

    Everywhere else a KeyboardInterrupt could land in a hop into the trio loop
    (leaving its task running), in Hypothesis's engine (which may turn it into
    an internal error), or in a garbage-collector callback (where Python prints
    and drops it), so the guard defers it to the next step boundary instead.
    """
    return frozenset({wait_until_accepting.__code__})


class InterruptGuard:
    """Turn a stop signal into a KeyboardInterrupt only where it is safe (see the module docstring).

    Safe points are the step boundaries (``checkpoint``), which the campaign
    calls between test cases and replays, and the wait for a server to start
    listening, which may last many seconds. Once delivered, the interrupt is
    raised again at every later checkpoint, so that the machine's teardown does
    not start new steps on the way out. The third signal is obeyed wherever it
    lands, in case a step hangs.
    """

    def __init__(self) -> None:
        self.presses = 0
        self.signal_number = 0
        self.pending = False
        self._safe = _raise_safe_code()

    def _in_safe_place(self, frame: FrameType | None) -> bool:
        while frame is not None:
            if frame.f_code in self._safe:
                return True
            frame = frame.f_back
        return False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.presses += 1
        self.signal_number = self.signal_number or signum
        self.pending = True
        if self.presses >= INSISTENT_INTERRUPTS or self._in_safe_place(frame):
            raise KeyboardInterrupt

    def checkpoint(self) -> None:
        if self.pending:
            raise KeyboardInterrupt

    @property
    def interrupted(self) -> bool:
        return self.presses > 0

    @property
    def insisted(self) -> bool:
        return self.presses >= INSISTENT_INTERRUPTS

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process killed by it: 130 for Ctrl-C."""
        return 128 + (self.signal_number or signal.SIGINT)

    @contextmanager
    def installed(self) -> Iterator[InterruptGuard]:
        """Handle the signals for the duration; a no-op off the main thread, where they are not.

        SIGTERM and SIGHUP (a closed terminal, ``timeout``, a CI runner giving up)
        are treated like Ctrl-C: otherwise the server echofuzz spawned, which
        lives in a session of its own, would be left running.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {number: signal.signal(number, self.handler) for number in STOP_SIGNALS}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def run_guarded(
    target: Target,
    options: FuzzOptions,
    guard: InterruptGuard,
    database: ExampleDatabase | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzResult:
    """Run a campaign whose step boundaries are the guard's checkpoints.

    An interrupt anywhere (even before fuzzing) gives an 'interrupted' result.
    The target is stopped here as well as in ``Campaign.run``, because an
    interrupt while it is starting escapes ``run`` before its own cleanup.
    """
    # Here, not at the top: the guard is installed before the command line is
    # parsed, and a usage error should not wait for Hypothesis and trio.
    from echofuzz.engine.campaign import Campaign

    started = time.monotonic()
    campaign = Campaign(
        target,
        options,
        database=database,
        checkpoint=guard.checkpoint,
        stop_requested=lambda: guard.pending,
        progress=progress,
    )
    try:
        result = campaign.run()
    except KeyboardInterrupt:
        result = FuzzResult("interrupted", target.description, options.seed)
        campaign.interrupted(result)
    finally:
        target.stop()
    result.elapsed_s = time.monotonic() - started
    if guard.interrupted and result.verdict == "pass":
        result.verdict = "interrupted"
        result.notes.append("interrupted by the user while stopping")
    return result
