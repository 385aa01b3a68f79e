"""One run reports every distinct bug it meets, each shrunk on its own, and keeps them apart.

The corpus servers that declare ``PLANTED`` carry several independent bugs;
the claim each planted bug breaks must be among the run's findings' claims, each finding's
reproduction must be short (a crowd's count aside), and no two findings may be
the same bug.
"""

import pytest

from echofuzz.engine.shrink import signature
from tests.echo_targets import CORPUS, corpus_command, describe, fuzz
from tests.test_broken_server_corpus import SERVERS, SHORT, declared


def planted(path):
    try:
        return declared(path, "PLANTED")
    except LookupError:
        return None


MULTI = [p for p in SERVERS if planted(p)]


def test_the_corpus_has_servers_with_two_and_with_three_planted_bugs():
    assert sorted(len(planted(p)) for p in MULTI) == [2, 3]


@pytest.mark.parametrize("server", MULTI, ids=[p.stem for p in MULTI])
def test_every_planted_bug_is_found_and_shrunk_on_its_own(server):
    # A deadline of 0.5 s: a known stall costs a deadline in every later case that meets it.
    result = fuzz(
        corpus_command(server), max_bugs=6, max_examples=150, shrink_time=15.0, deadline=0.5
    )
    reasons = [bug.reason for bug in result.bugs]
    claims = {bug.claim for bug in result.bugs}
    for claim in planted(server):
        assert claim in claims, (claim, describe(result), reasons)
    for bug in result.bugs:
        assert bug.reproduced and len(bug.reproduction) <= SHORT, (bug.reason, describe(result))
    assert len({signature(r) for r in reasons}) == len(reasons)


def test_one_bug_at_a_time_is_still_there_for_who_asks_for_it():
    server = CORPUS / "selectors_three_bugs.py"
    result = fuzz(corpus_command(server), max_bugs=1, max_examples=60)
    assert result.verdict == "fail" and len(result.bugs) == 1, describe(result)
