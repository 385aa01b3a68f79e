"""The one replay: run a list of steps against a target and the oracle, and name the first problem.

"Replay" means this and only this in echofuzz: steps (perhaps several test
cases, separated by ``finish``) executed differentially, back to back, in one
hop into the trio loop, on a server restarted first when asked and possible.
The campaign replays to shrink and to explain a failure; ``echofuzz --replay``
replays a report; the pytest plugin's fixtures and the tests replay too. The
standard-library client in ``echofuzz.wire`` runs steps without an oracle, for
reproduction scripts; that is "running a reproduction", not a replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from echofuzz.engine.executor import DifferentialExecutor, OracleFailure
from echofuzz.engine.portal import TrioThread
from echofuzz.engine.targets import Target
from echofuzz.model import HalfClose
from echofuzz.result import may_be_an_exit
from echofuzz.vocabulary import Step

#: How long a server whose connections ended may take to exit (s).
DEATH_GRACE = 0.5


def never() -> bool:
    return False


def with_death_notice(target: Target, problems: list[str]) -> list[str]:
    """Put the server's death first: it explains every other symptom.

    The exit may lag the connections' ends by a moment, so it is waited for,
    but only after problems a dying server causes (waiting after every failing
    case was most of a run against a server that fails without dying).
    """
    dying = any(may_be_an_exit(problem) for problem in problems)
    notice = target.death_notice(grace=DEATH_GRACE if dying else 0.0)
    return [f"the server {notice}", *problems] if notice is not None else problems


def replay(
    portal: TrioThread,
    target: Target,
    steps: Sequence[Step],
    deadline: float,
    *,
    fresh: bool = True,
    ignore: tuple[str, ...] = (),
    stop_requested: Callable[[], bool] = never,
    patience: float | None = None,
    half_close: HalfClose = "echo",
) -> str | None:
    """Run ``steps`` on ``target`` (restarted first if ``fresh``) and the oracle; the first problem.

    A problem in ``ignore`` counts as no reproduction: it ends the replay as it
    ends a test case, before the failure being chased can show. A step list the
    oracle cannot follow is no reproduction either. ``stop_requested`` is asked
    between steps, on the trio thread (an interrupt ends the replay there).
    ``patience`` is the executor's (None: the default, which confirms a stall).
    """
    target.ensure_running(force_restart=fresh)
    executor = DifferentialExecutor(portal, target.address(), None, deadline, patience, half_close)

    def stop_after(problems: list[str]) -> bool:
        return bool(problems) or stop_requested() or target.death_notice() is not None

    try:
        _, problems = executor.execute_all(steps, stop_after)
        problems = with_death_notice(target, problems)
    except OracleFailure:
        return None
    finally:
        executor.discard()
    if problems and not any(text in problems[0] for text in ignore):
        return problems[0]
    return None


def replay_once(
    target: Target,
    steps: Sequence[Step],
    deadline: float,
    stop_requested: Callable[[], bool] = never,
    half_close: HalfClose = "echo",
) -> str | None:
    """Start ``target`` and a trio loop, replay, and stop both: ``echofuzz --replay``'s engine."""
    try:
        target.start()
        with TrioThread() as portal:
            return replay(
                portal,
                target,
                steps,
                deadline,
                fresh=False,
                stop_requested=stop_requested,
                half_close=half_close,
            )
    finally:
        target.stop()
