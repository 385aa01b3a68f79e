"""Test-wide configuration: Hypothesis profiles, chosen by HYPOTHESIS_PROFILE.

- ``dev`` (the default): quick, for the edit-run loop and ``tox``.
- ``ci``: more examples and a printed reproduction blob for every failure.
- ``thorough``: long runs, for hunting rare interleavings by hand.
- ``mutation``: the dev profile made deterministic, for ``python -m tests.mutation``:
  every mutant must meet the same examples, and no database may carry examples
  from one mutant's run to the next.

Strictness (markers, config, warnings as errors, strict xfail) and trio mode
live in ``pyproject.toml`` so that they apply however pytest is started.

``spec/`` and ``impl/`` are read from the checkout, never installed: pytest
finds them through ``pythonpath`` in ``pyproject.toml``, and the processes the
tests start (servers run as ``python -m impl...`` in scratch directories, the
``echofuzz`` command) through ``PYTHONPATH``, set here for the whole run.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))

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
