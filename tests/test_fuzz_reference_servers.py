"""The reference servers show no divergence from the oracle, whatever the clients do.

The blocking server serves one client at a time; that limit is stated as a
precondition (one connection at a time, so no bursts), not discovered as a bug.
"""

import pytest

from echofuzz.vocabulary import OPS
from tests.echo_targets import describe, fuzz, module_command


def test_the_select_reference_server_never_diverges_from_the_oracle():
    result = fuzz(module_command("impl.select_echo"), max_payload=4 << 20)
    assert result.verdict == "pass", describe(result)
    assert result.restarts == 0


def test_the_blocking_reference_server_never_diverges_while_it_has_one_client_at_a_time():
    one_at_a_time = frozenset(OPS) - {"burst"}
    result = fuzz(module_command("impl.blocking_echo"), max_connections=1, ops=one_at_a_time)
    assert result.verdict == "pass", describe(result)


@pytest.mark.parametrize("module", ["impl.async_echo"])
def test_the_async_await_echo_server_on_our_own_loop_never_diverges(module):
    result = fuzz(module_command(module), max_payload=4 << 20)
    assert result.verdict == "pass", describe(result)
