"""The standalone reproduction script: the model and the wire client inlined, the steps embedded.

A failure's owner should be able to replay it with nothing but Python, on any
machine, against any address. So the script is not a copy of a template that
has to be kept in step with the fuzzer by hand: it is ``echofuzz.model`` and
``echofuzz.wire`` themselves, their sources joined (the one import between
them dropped), followed by the steps as a literal and a call of
``wire.main``. Whatever the fuzzer's standard-library client and its echo model
say, the script says.

The source is compiled before it is returned, so a module that stopped being
inlinable (say, it gained a third-party import) is our error now, not the
user's later.
"""

from __future__ import annotations

import os
import pprint
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from echofuzz import model, wire
from echofuzz.result import FuzzResult
from echofuzz.vocabulary import Step

#: Modules inlined, in order: each may import from the ones before it, and nothing else of ours.
INLINED = (model, wire)
FUTURE = "from __future__ import annotations\n"
OWN_IMPORT = re.compile(r"^from echofuzz(\.\w+)* import [\w, ]+\n", re.MULTILINE)
THIRD_PARTY = ("trio", "hypothesis", "pytest")


def module_body(module: object) -> str:
    """A module's source without its ``from __future__`` line and its imports of our modules."""
    path = getattr(module, "__file__", None)
    assert isinstance(path, str)
    source = Path(path).read_text(encoding="utf-8")
    if source.count(FUTURE) != 1:
        raise RuntimeError(f"{path} should have exactly one {FUTURE.strip()!r}")
    body = source.replace(FUTURE, "")
    body = OWN_IMPORT.sub("", body)
    for name in THIRD_PARTY:
        if re.search(rf"^(import|from) {name}\b", body, re.MULTILINE):
            raise RuntimeError(f"{path} imports {name}: a reproduction script cannot")
    return body


def script_source(
    steps: list[Step], deadline: float, comment: Iterable[str] = (), half_close: str = "echo"
) -> str:
    """The whole script: a header, the inlined modules, the steps, and the call of ``main``."""
    literal = pprint.pformat([step.to_json() for step in steps], width=96, sort_dicts=False)
    notes = "".join(f"# {' '.join(text.split())}\n" for text in comment)
    parts = [
        "#!/usr/bin/env python3\n",
        '"""An echofuzz reproduction: python THIS_FILE HOST:PORT (exit 1: reproduced, 0: not).\n\n'
        "Standard library only. Start a fresh copy of the server, then run this against it.\n"
        '"""\n\n',
        FUTURE,
    ]
    for module in INLINED:
        parts.append(f"\n# ---- {module.__name__} " + "-" * 60 + "\n")
        parts.append(module_body(module))
    parts += [
        "\n# ---- the reproduction " + "-" * 60 + "\n",
        notes,
        f"EMBEDDED_STEPS: list[dict[str, object]] = {literal}\n",
        f"EMBEDDED_DEADLINE = {float(deadline)!r}\n",
        f"EMBEDDED_HALF_CLOSE: HalfClose = {half_close!r}\n\n",
        'if __name__ == "__main__":\n',
        "    arguments = sys.argv[1:]\n",
        "    sys.exit(main(arguments, EMBEDDED_STEPS, EMBEDDED_DEADLINE, EMBEDDED_HALF_CLOSE))\n",
    ]
    source = "".join(parts)
    # The wire module's own ``if __name__`` block would run first: drop it.
    source = source.replace('\nif __name__ == "__main__":\n    sys.exit(main())\n', "\n", 1)
    compile(source, "echofuzz-repro.py", "exec")
    return source


def write_script(path: Path, source: str) -> None:
    """Write the script atomically and make it executable (it has a ``#!`` line)."""
    write_atomically(path, source)
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader, or a Ctrl-C, never meets half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def numbered_paths(first: Path, count: int) -> list[Path]:
    """Where each bug's script goes: ``first`` for the first, ``NAME-2.py``... for the others."""
    later = [first.with_name(f"{first.stem}-{n}{first.suffix}") for n in range(2, count + 1)]
    return [first, *later] if count else []


def write_bug_scripts(
    first: Path, result: FuzzResult, deadline: float, half_close: str = "echo"
) -> list[Path]:
    """One standalone script per bug (or for the sequence as found, when interrupted)."""
    bugs = [(f.reproduction, f.reason) for f in result.bugs]
    if not bugs and result.reproduction and result.verdict != "pass":
        bugs = [(result.reproduction, result.reason or "a divergence")]
    paths = numbered_paths(first, len(bugs))
    for path, (steps, reason) in zip(paths, bugs, strict=True):
        comment = [
            f"Found by echofuzz (seed {result.seed}) against {result.target}:",
            f"  {reason}",
        ]
        write_script(path, script_source(steps, deadline, comment, half_close))
    return paths
