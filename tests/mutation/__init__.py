"""Mutation testing of ``impl/``: change one token of the implementation, and a check must fail.

``python -m tests.mutation [PATH ...]`` (or ``tox -e mutation -- PATH ...``)
mutates each module of ``impl/`` in place with cosmic-ray's operators, runs the
fast tests that exercise that module (``selection.MODULES``) once per mutant,
and prints one line per module: ``PATH: K killed of N (S%)``. A mutant is
killed when the tests fail, error or time out.

Two kinds of mutant are left out of N, and the runner says how many:

- those inside annotations: every module starts with
  ``from __future__ import annotations``, so annotations are never evaluated
  (PEP 563) and changing ``float | None`` to ``float + None`` is not a change;
- the stars of signatures and unpacking (``*, b``, ``*args``, ``f(**kw)``),
  which cosmic-ray replaces as if they were operators: the results are
  syntax errors, or a keyword-only marker turned positional-only marker;
- those listed in ``equivalent.EQUIVALENT``, one line of reason each: mutants
  that no test can tell from the original, because they behave the same.
"""
