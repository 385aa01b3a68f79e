"""Mutants that no test can tell from the original, each with its reason.

A mutant is named by its module, the line as it was and the line as the
mutant has it (both stripped), so an entry survives edits elsewhere in the
file. The runner warns about entries that no longer match any mutant. Keep
this short: a mutant that *could* be observed belongs in the specification.
"""

from __future__ import annotations

from typing import NamedTuple


class Equivalent(NamedTuple):
    path: str
    before: str
    after: str
    reason: str


EQUIVALENT: tuple[Equivalent, ...] = ()
