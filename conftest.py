"""Test-wide configuration: Hypothesis profiles, chosen by HYPOTHESIS_PROFILE.

- ``dev`` (the default): quick, for the edit-run loop and ``tox``.
- ``ci``: more examples and a printed reproduction blob for every failure.
- ``thorough``: long runs, for hunting rare interleavings by hand.
- ``mutation``: the dev profile made deterministic, for ``python -m tests.mutation``:
  every mutant must meet the same examples, and no database may carry examples
  from one mutant's run to the next.

Strictness (markers, config, warnings as errors, strict xfail) and trio mode
live in ``pyproject.toml`` so that they apply however pytest is started.
"""

import os

from hypothesis import HealthCheck, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile("bench", max_examples=100, deadline=None)
settings.register_profile(
    "mutation",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
