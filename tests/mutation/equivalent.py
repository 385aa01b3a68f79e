"""Mutants that no test can tell from the original, each with its reason.

A mutant is named by its module (a glob), the line as it was and the line as
the mutant has it (both stripped), so an entry survives edits elsewhere in
the file. The runner warns about entries that no longer match any mutant. Keep
this short: a mutant that *could* be observed belongs in the specification.
"""

from __future__ import annotations

from typing import NamedTuple


class Equivalent(NamedTuple):
    path: str
    before: str
    after: str
    reason: str


_COMPLETE_TREE = (
    "the trees are complete, l == r == 2**n - 1: l+1 and r+1 are 2**n, which shares no bit"
    " with r or l, so there |, ^ and + agree"
)

EQUIVALENT: tuple[Equivalent, ...] = (
    Equivalent(
        "impl/*",
        'if __name__ == "__main__":',
        'if __name__ <= "__main__":',
        "every module name under impl/ sorts after '__main__', so only python -m runs main()",
    ),
    Equivalent("impl/binary.py", "return l + 1 + r", "return l | 1 + r", _COMPLETE_TREE),
    Equivalent("impl/binary.py", "return l + 1 + r", "return l + 1 | r", _COMPLETE_TREE),
    Equivalent("impl/binary.py", "return l + 1 + r", "return l ^ 1 + r", _COMPLETE_TREE),
    Equivalent("impl/binary.py", "return l + 1 + r", "return l + 1 ^ r", _COMPLETE_TREE),
)
