"""Why a process died, read from the last lines it wrote, whatever language it was written in.

A crash report is mostly frames and boilerplate; one or two of its lines name the
cause. These rules say which, and why that line:

1. Python: the unindented line that ends the last ``Traceback (most recent call
   last):`` block. Chained tracebacks print the exception that killed the process
   last, and its name can be anything (``trio.Cancelled``, ``KeyboardInterrupt``).
   An exception group is shown as its group line followed by its leaf exceptions,
   because the group's message ("unhandled errors in a TaskGroup") never says what
   went wrong. Without a traceback header, an unindented ``SomethingError: message``
   line still counts: servers print those on their own.
2. Node.js: the first line after the source excerpt and its caret (``Error: read
   ECONNRESET``, ``TypeError: x``, or a thrown string), plus the ``code: '...'``
   property printed under the stack. Everything after it (``Emitted 'error' event``,
   ``Node.js v20...``) is the same for every crash.
3. Java: the exception of ``Exception in thread "main" ...``, and the last
   ``Caused by:`` when that line does not already contain it. Wrappers
   (``UncheckedIOException: echo failed``) say what the program was doing; the root
   cause (``SocketException: Connection reset``) says what happened. Frames
   (``\\tat ...``) are skipped.
4. Rust: ``thread 'main' panicked at <where>`` with its message, which since Rust
   1.73 is on the lines after it and before that was quoted inside it; both forms
   come out as the newer one, without the thread id newer versions add. The
   ``note: run with RUST_BACKTRACE=1`` line and backtrace frames are skipped.
5. Go: the last unindented ``panic: ...`` or ``fatal error: ...`` line; the goroutine
   dump after it only says where.
6. C and glibc: an ``Assertion ... failed.`` line, glibc's ``*** stack smashing
   detected ***`` and heap checks, a C++ ``terminate called ...`` with its
   ``what():``. A shell that ran the program reports a fatal signal (``Segmentation
   fault``) after everything else; it is kept as a suffix to the cause found before
   it, or stands alone. A process killed by a signal usually writes nothing, so the
   caller, which has the exit status, says so: see :func:`killed_by`.
7. Otherwise the last line with a letter in it.

When several rules match, the cause printed last wins (a server may have logged
failures it survived), and on the same line the more specific rule wins. Stderr is
read before stdout. The result is one line of at most :data:`LONGEST` characters.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Sequence

#: Longest cause returned; longer ones are cut and end with "...".
LONGEST = 200

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LETTER = re.compile(r"[A-Za-z]")

_PY_HEADER = re.compile(r"^Traceback \(most recent call last\):$")
_PY_FRAME = re.compile(r'^File ".*", line \d+')
_PY_NOT_CAUSE = re.compile(
    r"^(Traceback \(most recent call last\):|During handling of the above exception"
    r"|The above exception was the direct cause|\+ Exception Group Traceback)"
)
_PY_EXCEPTION = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Exit|Interrupt|Group)(?::\s.*)?$"
)
_GROUP_HEADER = re.compile(r"^\s*\+ Exception Group Traceback \(most recent call last\):$")
_GROUP_BOX = re.compile(r"^\s*\| ?(.*)$")
_GROUP_RULE = re.compile(r"^\s*\+[-+]*(?: \S+ -+)?$")
_GROUP_LINE = re.compile(r"\(\d+ sub-exceptions?\)$")

_NODE_TRAILER = re.compile(r"^Node\.js v\d+")
_NODE_CARET = re.compile(r"^\s*\^+\s*$")
_NODE_CODE = re.compile(r"^\s*code: '([^']+)',?$")

_JAVA_FIRST = re.compile(r'^Exception in thread "[^"]*" (.+)$')
_JAVA_CAUSE = re.compile(r"^Caused by: (.+)$")
_JAVA_INSIDE = re.compile(r"^\s*(at |\.\.\. \d+ more|Suppressed: |Caused by: )")

_RUST_NEW = re.compile(r"^thread '([^']*)'(?: \(\d+\))? panicked at (.+):$")
_RUST_OLD = re.compile(r"^thread '([^']*)'(?: \(\d+\))? panicked at '(.*)', (\S+)$")
_RUST_AFTER = re.compile(r"^(note: |stack backtrace:|thread ')")

_GO = re.compile(r"^(?:panic|fatal error): \S.*$")
_GO_RECOVERED = re.compile(r" \[recovered(?:, repanicked)?\]$")

_C_FATAL = re.compile(
    r"^(?:\S+: .+: Assertion .+ failed\."  # glibc's assert()
    r"|\*\*\* .+ \*\*\*(?:: .*)?"  # __fortify_fail: stack smashing, buffer overflow
    r"|(?:free|malloc|realloc|munmap_chunk|malloc_consolidate)\(\): .+"
    r"|double free or corruption .+|corrupted size vs\. prev_size"
    r"|terminate called .+)$"
)
_CXX_WHAT = re.compile(r"^\s*what\(\):\s+(.*)$")
_SHELL_SIGNAL = re.compile(
    r"^(?:\S+:)?(?:\s*line \d+:)?(?:\s*\d+)?\s*(Segmentation fault|Aborted|Bus error"
    r"|Floating point exception|Illegal instruction|Killed|Trace/breakpoint trap)"
    r"( \(core dumped\))?(?:\s{2,}\S.*)?$"
)

#: A cause and the index of the last line it was read from.
Found = tuple[int, str]


def cause_of_death(stderr: Sequence[str], stdout: Sequence[str] = ()) -> str:
    """The line that says why a process died, from its last lines of stderr and stdout.

    Takes what :class:`~echofuzz.engine.targets.ServerProcess` keeps (right-stripped
    lines, indentation intact), so that a crash in any language is reported by its
    cause rather than by the runtime's version banner. Lines stripped on both sides
    give the same cause, except where only indentation tells a cause from its
    context (Go's indented re-panics).

    >>> cause_of_death(["Traceback (most recent call last):", '  File "s.py", line 3',
    ...                 "ConnectionResetError: [Errno 104] Connection reset by peer"])
    'ConnectionResetError: [Errno 104] Connection reset by peer'
    >>> cause_of_death(["node:events:502", "      throw er;", "      ^", "",
    ...                 "Error: read ECONNRESET", "    at TCP.onStreamRead (x:1:2) {",
    ...                 "  errno: -104,", "  code: 'ECONNRESET',", "}", "", "Node.js v20.20.2"])
    'Error: read ECONNRESET (code ECONNRESET)'
    >>> cause_of_death(['Exception in thread "main" java.io.UncheckedIOException: echo',
    ...                 "\tat Echo.main(Echo.java:9)", "Caused by: java.net.SocketException: "
    ...                 "Connection reset", "\t... 1 more"])
    'java.io.UncheckedIOException: echo; caused by java.net.SocketException: Connection reset'
    >>> cause_of_death(["thread 'main' (4242) panicked at src/main.rs:10:5:",
    ...                 "index out of bounds: the len is 0 but the index is 3",
    ...                 "note: run with `RUST_BACKTRACE=1` environment variable to display..."])
    "thread 'main' panicked at src/main.rs:10:5: index out of bounds: the len is 0 but the ind..."
    >>> cause_of_death(["panic: runtime error: index out of range [5] with length 3", "",
    ...                 "goroutine 1 [running]:", "main.main()", "\t/src/main.go:8 +0x1d"])
    'panic: runtime error: index out of range [5] with length 3'
    >>> cause_of_death(["echo: listening"], ["bye"])  # no runtime explains it: stderr's last
    'echo: listening'
    >>> cause_of_death([], [])
    ''
    """
    streams = [_clean(stderr), _clean(stdout)]
    for lines in streams:
        cause = _recognised(lines)
        if cause:
            return _clip(cause)
    for lines in streams:
        said = [line for line in lines if _LETTER.search(line)]
        if said:
            return _clip(said[-1].strip())
    return ""


def killed_by(returncode: int | None) -> str:
    """How a signal ended a process, for the caller: the dying process could not say it.

    A spawned server killed by SIGSEGV leaves no line about it (without a shell,
    nobody prints "Segmentation fault"); only its exit status tells.

    >>> killed_by(-11)
    'killed by SIGSEGV (Segmentation fault)'
    >>> killed_by(1)
    ''
    """
    if returncode is None or returncode >= 0:
        return ""
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"killed by signal {number}"
    description = signal.strsignal(number)
    return f"killed by {name} ({description})" if description else f"killed by {name}"


def _clean(lines: Sequence[str]) -> list[str]:
    return [_ANSI.sub("", line).rstrip() for line in lines]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LONGEST else text[: LONGEST - 3] + "..."


def _recognised(lines: list[str]) -> str:
    """The cause printed last by any rule, suffixed by a shell's signal report after it."""
    found = [
        (hit, rank)
        for rank, rule in enumerate(_RULES)
        if (hit := rule(lines)) is not None and hit[1]
    ]
    signalled = _shell_signal(lines)
    if not found:
        return signalled[1] if signalled else ""
    (where, cause), _ = max(found, key=lambda item: (item[0][0], -item[1]))
    if signalled and signalled[0] > where:
        return f"{cause} ({signalled[1]})"
    return cause


def _python_traceback(lines: list[str]) -> Found | None:
    for start in reversed(range(len(lines))):
        if _PY_HEADER.match(lines[start]):
            for i in range(start + 1, len(lines)):
                line = lines[i]
                if line and not line[0].isspace():
                    if _PY_NOT_CAUSE.match(line) or _PY_FRAME.match(line):
                        return None  # not a traceback, or one stripped of its indents
                    return i, line
            return None
    return None


def _python_group(lines: list[str]) -> Found | None:
    starts = [i for i, line in enumerate(lines) if _GROUP_HEADER.match(line)]
    if not starts:
        return None
    group = ""
    leaves: list[str] = []
    section: list[str] = []  # exception lines since the last rule of the box
    end = starts[-1]
    for i in range(starts[-1] + 1, len(lines)):
        line = lines[i]
        if _GROUP_RULE.match(line):
            leaves += [text for text in section[-1:] if not _GROUP_LINE.search(text)]
            section = []
        elif box := _GROUP_BOX.match(line):
            text = box.group(1)
            if text and not text[0].isspace() and not _PY_NOT_CAUSE.match(text):
                group = group or text
                section.append(text)
        else:
            break
        end = i
    leaves += [text for text in section[-1:] if not _GROUP_LINE.search(text)]
    if not group:
        return None
    distinct = [leaf for n, leaf in enumerate(leaves) if leaf not in leaves[:n] and leaf != group]
    return end, ": ".join([group, "; ".join(distinct)]) if distinct else group


def _python_line(lines: list[str]) -> Found | None:
    for i in reversed(range(len(lines))):
        if _PY_EXCEPTION.match(lines[i]):
            return i, lines[i]
    return None


def _node(lines: list[str]) -> Found | None:
    trailers = [i for i, line in enumerate(lines) if _NODE_TRAILER.match(line)]
    if not trailers:
        return None
    end = trailers[-1]
    carets = [i for i in range(end) if _NODE_CARET.match(lines[i])]
    if not carets:
        return None
    for i in range(carets[-1] + 1, end):
        if lines[i].strip():
            cause = lines[i].removesuffix(" {").strip()
            codes = [m.group(1) for line in lines[i:end] if (m := _NODE_CODE.match(line))]
            return i, f"{cause} (code {codes[0]})" if codes else cause
    return None


def _java(lines: list[str]) -> Found | None:
    firsts = [i for i, line in enumerate(lines) if _JAVA_FIRST.match(line)]
    if not firsts:
        return None
    start = firsts[-1]
    first = _JAVA_FIRST.match(lines[start])
    assert first is not None
    thrown, root, end = first.group(1), "", start
    for i in range(start + 1, len(lines)):
        if cause := _JAVA_CAUSE.match(lines[i]):
            root, end = cause.group(1), i
        elif not _JAVA_INSIDE.match(lines[i]):
            break
    if not root or root in thrown:
        return end, thrown
    joint = "; caused by "
    room = max(LONGEST - len(joint) - len(root), LONGEST // 3)
    return end, _clip(thrown)[:room] + joint + root


def _rust(lines: list[str]) -> Found | None:
    for start in reversed(range(len(lines))):
        if old := _RUST_OLD.match(lines[start]):
            thread, quoted, where = old.groups()
            return start, f"thread '{thread}' panicked at {where}: {quoted}"
        if new := _RUST_NEW.match(lines[start]):
            thread, where = new.groups()
            message: list[str] = []
            end = start
            for i in range(start + 1, len(lines)):
                if not lines[i].strip() or _RUST_AFTER.match(lines[i]):
                    break
                message.append(lines[i].strip())
                end = i
            said = f"thread '{thread}' panicked at {where}"
            return end, f"{said}: {'; '.join(message)}" if message else said
    return None


def _go(lines: list[str]) -> Found | None:
    for i in reversed(range(len(lines))):
        if _GO.match(lines[i]):
            return i, _GO_RECOVERED.sub("", lines[i])
    return None


def _c(lines: list[str]) -> Found | None:
    for i in reversed(range(len(lines))):
        if _C_FATAL.match(lines[i]):
            what = _CXX_WHAT.match(lines[i + 1]) if i + 1 < len(lines) else None
            if what:
                return i + 1, f"{lines[i]}: {what.group(1)}"
            return i, lines[i]
    return None


def _shell_signal(lines: list[str]) -> Found | None:
    for i in reversed(range(len(lines))):
        if said := _SHELL_SIGNAL.match(lines[i]):
            return i, said.group(1) + (said.group(2) or "")
    return None


#: The rules, most specific first: on the same line, the earlier one wins.
_RULES: tuple[Callable[[list[str]], Found | None], ...] = (
    _node,
    _java,
    _rust,
    _go,
    _python_group,
    _python_traceback,
    _c,
    _python_line,
)
