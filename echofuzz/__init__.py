"""echofuzz: differential fuzzing of TCP echo servers against a trio oracle.

The package is layered, and imports only run downwards:

1. ``vocabulary``, ``model``, ``wire`` and ``options``: what a step is, what
   the echo model allows, the standard-library client a reproduction runs on,
   and the user's knobs. Standard library only, so a usage error is answered
   before trio or Hypothesis is imported, and a reproduction script can inline
   ``model`` and ``wire`` whole.
2. ``engine``: what runs a test case -- the oracle, the client, the
   differential executor, the Hypothesis machine, the campaign, the shrinker,
   the replay, the targets and the example databases.
3. ``outputs``: what a run leaves behind -- the JSON report, the printed
   summary and the standalone reproduction script.
4. ``frontends``: the command line and the pytest plugin, both built from the
   one option table in ``options``.

``tests/test_echofuzz_layout.py`` reads the imports and holds the package to
this order, with no cycles.
"""
