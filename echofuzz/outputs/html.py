"""The conformance report as one HTML page: the claims, pass or fail, and the evidence for each.

The JSON report is for programs and the printed summary for the terminal; this
page is for the person who has to decide whether a server is right, and then
fix it. So it leads with the verdict and a table of the echo claims (as
Autobahn|Testsuite leads with its table of cases), and every failed claim links
to the findings that broke it: their steps, folded where they repeat, and what
the server did beside what the oracle did.

The page is one file that works anywhere it is opened or mailed: inline CSS,
no script, no font, no image and no link but ``#`` anchors, and a Content
Security Policy that would stop the browser fetching anything even if a later
change slipped something in. Long histories are behind ``<details>``, which
needs no script. Every piece of text that came from the run (reasons, target
names, payload reprs, notes) goes through ``html.escape``: a server's bytes
must not be able to write markup into its own report.

Which claims a run can have tested depends on its options; a claim it could not
have tested is "not exercised", never "pass" (see ``not_exercised``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from echofuzz.options import (
    ADDRESS_CONNECT_TIMEOUT,
    OPTIONS,
    SPAWN_STARTUP_TIMEOUT,
    FuzzOptions,
    report_options,
    spell,
)
from echofuzz.outputs.script import write_atomically
from echofuzz.outputs.steps_text import SHOWN_LINES, Line, compress
from echofuzz.result import CLAIMS, Finding, FuzzResult
from echofuzz.vocabulary import Step

#: Operations that put bytes of the client's choosing on a connection.
SENDING_OPS = frozenset({"send", "burst", "slow_start"})
#: The smallest ``max_payload`` at which the campaign starts slow readers (``engine.machine``).
SLOW_READER_MIN_PAYLOAD = 65536
#: The claims table's row for findings whose claim is not one of ``CLAIMS``.
OTHER = "other"


def not_exercised(claim: str, options: FuzzOptions) -> str | None:
    """Why a run with these options cannot have tested ``claim``; None when it can have.

    - bytes intact, order, completeness: some operation that sends bytes
      (send, burst or slow_start). The end-of-case probe sends a few fixed
      bytes, a check that the server lives, not a test of its echo.
    - isolation: two connections open at once (``max_connections`` >= 2) with
      bytes on them. A burst is not needed: sends on two open connections in
      turn cross just as well.
    - flow control: slow readers (``slow_start``), which the campaign starts
      only when ``max_payload`` is at least 64K, and another connection beside
      them (``max_connections`` >= 2) to be held up or not.
    - half-close, keeps accepting, no stall: always. Every test case ends
      with ``finish``, which half-closes every connection, expects EOF and
      opens a new connection, and every wait has the deadline.
    """
    ops = options.ops
    if claim in ("intact", "order", "complete"):
        if not ops & SENDING_OPS:
            return "no operation that sends bytes (send, burst, slow_start) was enabled"
        return None
    if claim == "isolation":
        if options.max_connections < 2:
            return "max_connections is 1: never two connections at once"
        if not ops & SENDING_OPS:
            return "no operation that sends bytes (send, burst, slow_start) was enabled"
        return None
    if claim == "flow_control":
        if "slow_start" not in ops:
            return "slow_start was not among the operations: no client stopped reading"
        if options.max_payload < SLOW_READER_MIN_PAYLOAD:
            return "max_payload is under 64K, too small for a slow reader to fill its buffers"
        if options.max_connections < 2:
            return "max_connections is 1: no other client to be held up"
        return None
    return None


@dataclass
class ClaimRow:
    """One row of the claims table."""

    claim: str
    statement: str
    #: "pass", "fail", "not-exercised" or "unfinished" (an interrupted run, no failure yet).
    status: str
    #: Indices (0-based) into the findings, and into the unconfirmed ones, that name this claim.
    findings: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)
    why: str = ""


def findings_of(result: FuzzResult) -> list[Finding]:
    """The findings to show: the campaign's bugs, or its one failure when it gave no list.

    A replay, an interrupted run or an older campaign may set only ``reason``
    and ``reproduction``; that failure must still get its card rather than
    leave a FAIL verdict without evidence.
    """
    if result.bugs:
        return list(result.bugs)
    if result.reason is None or result.verdict == "pass":
        return []
    return [
        Finding(
            reason=result.reason,
            claim="",
            reproduction=list(result.reproduction or []),
            reproduced=bool(result.reproduced),
            needs_history=result.history_dependent,
            first_seen_s=result.first_failure_s if result.first_failure_s is not None else 0.0,
            notes=(
                ["as found when the run was interrupted, not minimal"]
                if result.verdict == "interrupted"
                else []
            ),
        )
    ]


def claim_rows(result: FuzzResult, options: FuzzOptions) -> list[ClaimRow]:
    """The claims table: a finding makes its claim FAIL whatever the options say."""
    findings = findings_of(result)
    rows = []
    for claim, statement in CLAIMS.items():
        row = ClaimRow(claim, statement, "pass")
        row.findings = [i for i, f in enumerate(findings) if f.claim == claim]
        row.unconfirmed = [i for i, f in enumerate(result.unconfirmed) if f.claim == claim]
        why = not_exercised(claim, options)
        if result.examples == 0 and not result.steps:
            why = "no test case ran"
        if row.findings:
            row.status = "fail"
        elif why is not None:
            row.status, row.why = "not-exercised", why
        elif result.verdict == "interrupted":
            row.status = "unfinished"
        rows.append(row)
    others = [i for i, f in enumerate(findings) if f.claim not in CLAIMS]
    if others:
        rows.append(
            ClaimRow(OTHER, "other: failures not classified by claim", "fail", findings=others)
        )
    return rows


# -- building blocks -------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "not tried"}[value]


STATUS_TEXT = {
    "pass": "PASS",
    "fail": "FAIL",
    "not-exercised": "not exercised",
    "unfinished": "no failure yet",
}
VERDICT_TEXT = {"pass": "PASS", "fail": "FAIL", "lost": "TARGET LOST", "interrupted": "INTERRUPTED"}


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def dl(pairs: Iterable[tuple[str, str]], css: str = "facts") -> str:
    """A definition list of already escaped values."""
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in pairs)
    return f'<dl class="{css}">{items}</dl>'


def steps_list(lines: list[Line], width: int) -> str:
    """An ``ol`` whose number column fits the widest label of the whole listing."""
    return f'<ol class="steps" style="--n:{width}ch">{step_rows(lines)}</ol>'


def step_rows(lines: Iterable[Line]) -> str:
    out = []
    for line in lines:
        label = esc(line.label.replace("-", "\u2013"))
        if line.repeats == 1:
            out.append(f'<li><span class="n">{label}</span><code>{esc(line.text)}</code></li>')
            continue
        parts = "".join(f"<code>{esc(part)}</code>" for part in line.block)
        legend = f'<span class="legend">{esc(line.legend)}</span>' if line.legend else ""
        out.append(
            f'<li class="repeat"><span class="n">{label}</span>'
            f'<span class="times">repeat {line.repeats} \u00d7</span>'
            f'<span class="block">{parts}{legend}</span></li>'
        )
    return "".join(out)


def steps_html(steps: list[Step]) -> str:
    """The numbered steps, folded; past ``SHOWN_LINES`` lines the middle is behind a disclosure."""
    if not steps:
        return '<p class="none">no steps recorded</p>'
    lines = compress(steps)
    width = max(len(line.label) for line in lines) + 1
    if len(lines) > SHOWN_LINES:
        head, middle, tail = (
            lines[: SHOWN_LINES // 2],
            lines[SHOWN_LINES // 2 : -SHOWN_LINES // 2],
            lines[-SHOWN_LINES // 2 :],
        )
        hidden = sum(line.count for line in middle)
        body = (
            f"{steps_list(head, width)}"
            f'<details class="more"><summary>{hidden} more steps</summary>'
            f"{steps_list(middle, width)}</details>"
            f"{steps_list(tail, width)}"
        )
    else:
        body = steps_list(lines, width)
    if len(lines) < len(steps):
        every = [Line(n, n, step.describe()) for n, step in enumerate(steps, 1)]
        body += (
            f'<details class="more"><summary>all {len(steps)} steps, one per line</summary>'
            f"{steps_list(every, len(str(len(steps))) + 1)}</details>"
        )
    return body


def did_box(finding: Finding) -> str:
    server = esc(finding.server_did) if finding.server_did else "-"
    oracle = esc(finding.oracle_did) if finding.oracle_did else "-"
    return (
        '<div class="did">'
        f'<div class="server"><h4>the server did</h4><p>{server}</p></div>'
        f'<div class="oracle"><h4>the oracle did</h4><p>{oracle}</p></div>'
        "</div>"
    )


def claim_title(claim: str) -> str:
    statement = CLAIMS.get(claim)
    if statement is None:
        return "not classified by claim" if not claim else f"claim {claim!r}"
    return statement.split(":", 1)[0]


def claim_says(claim: str) -> str:
    return CLAIMS.get(claim, "").split(":", 1)[-1].strip()


def finding_card(finding: Finding, anchor: str, title: str, kind: str) -> str:
    steps = finding.reproduction
    what = "history" if finding.needs_history else "reproduction"
    facts = [
        ("reproduced", esc(yes_no(finding.reproduced))),
        ("needs history", esc(yes_no(finding.needs_history))),
        ("first seen at", esc(seconds(finding.first_seen_s))),
        ("hits", esc(plural(finding.hits, "test case"))),
    ]
    if finding.signature:
        facts.append(("signature", f"<code>{esc(finding.signature)}</code>"))
    notes = "".join(f"<li>{esc(note)}</li>" for note in finding.notes)
    return (
        f'<article class="card {kind}" id="{esc(anchor)}">'
        f'<header><span class="tag">{esc(title)}</span>'
        f"<h3>{esc(claim_title(finding.claim))}</h3>"
        f'<span class="says">{esc(claim_says(finding.claim))}</span></header>'
        f'<p class="reason">{esc(finding.reason)}</p>'
        f"{dl(facts)}"
        f"{did_box(finding)}"
        f"<h4>{esc(what)} ({esc(plural(len(steps), 'step'))})</h4>"
        f"{steps_html(steps)}" + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</article>"
    )


def claims_table(rows: list[ClaimRow]) -> str:
    body = []
    for number, row in enumerate(rows, 1):
        statement = row.statement.split(":", 1)
        name, says = statement if len(statement) == 2 else ("", row.statement)
        says = says.strip()
        cell = STATUS_TEXT[row.status]
        links = ", ".join(f'<a href="#finding-{i + 1}">finding {i + 1}</a>' for i in row.findings)
        if row.findings:
            cell += f" ({plural(len(row.findings), 'bug')})"
        detail = links
        if row.why:
            detail = esc(row.why)
        if row.unconfirmed:
            seen = ", ".join(f'<a href="#unconfirmed-{i + 1}">{i + 1}</a>' for i in row.unconfirmed)
            detail += ("; " if detail else "") + f"unconfirmed: {seen}"
        body.append(
            f'<tr class="claim" id="claim-{esc(row.claim)}" data-status="{esc(row.status)}">'
            f'<td class="num">{number}</td>'
            f'<td><strong>{esc(name)}</strong><span class="says">{esc(says)}</span></td>'
            f'<td class="status {esc(row.status)}">{esc(cell)}</td>'
            f'<td class="detail">{detail}</td></tr>'
        )
    return (
        '<table class="claims"><thead><tr><th>#</th><th>claim</th><th>result</th>'
        "<th>evidence</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def options_rows(options: FuzzOptions, seed: int | None) -> list[tuple[str, str]]:
    """The options as a user would have spelled them, with the default ones marked."""
    flags = {option.dest: option.flag for option in OPTIONS}
    rows: list[tuple[str, str]] = [("--seed", "random" if seed is None else str(seed))]
    for dest in report_options(options):
        value = getattr(options, dest)
        if dest == "shrink":
            rows.append(("--no-shrink", "not given: failures shrunk" if value else "given"))
        else:
            rows.append((flags.get(dest, dest), spell(dest, value)))
    startup = (
        spell("startup_timeout", options.startup_timeout)
        if options.startup_timeout is not None
        else f"default ({SPAWN_STARTUP_TIMEOUT:g} with --spawn, {ADDRESS_CONNECT_TIMEOUT:g} "
        "for HOST:PORT)"
    )
    rows += [("--startup-timeout", startup), ("--database", options.database)]
    return rows


def kv_table(rows: Iterable[tuple[str, str]], css: str) -> str:
    # A break opportunity after each comma lets a long list (--ops) wrap between its items.
    body = "".join(
        f"<tr><th><code>{esc(k)}</code></th><td>{esc(v).replace(',', ',<wbr>')}</td></tr>"
        for k, v in rows
    )
    return f'<table class="{css}"><tbody>{body}</tbody></table>'


def headline(rows: list[ClaimRow], verdict: str) -> str:
    """One sentence under the badge: how many claims failed, and what was left untested."""
    failed = sum(row.status == "fail" for row in rows if row.claim in CLAIMS)
    other = any(row.claim == OTHER for row in rows)
    if failed or other:
        said = [f"{failed} of {len(CLAIMS)} claims failed"] if failed else []
        said += ["a failure not classified by claim"] if other else []
        text = ", and ".join(said)
        if verdict == "interrupted":
            text += " before the run was interrupted"
    elif verdict == "interrupted":
        text = "no failure before the run was interrupted"
    elif verdict == "lost":
        text = "no confirmed failure before the server stopped accepting connections"
    else:
        text = "every claim exercised held"
    untested = sum(row.status == "not-exercised" for row in rows)
    if untested:
        text += f"; {untested} not exercised by these options"
    return text


# -- the page --------------------------------------------------------------------------

STYLE = """
:root{--ink:#1d2330;--mute:#5d6675;--line:#dde1e8;--paper:#f5f6f8;--card:#fff;
--pass:#1e7f3c;--pass-bg:#dff3e4;--fail:#b3261e;--fail-bg:#fbe3e1;--grey:#6b7280;
--grey-bg:#eceef1;--warn:#8a5a00;--warn-bg:#fdf0d5}
*{box-sizing:border-box}
body{margin:0;background:var(--paper);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:17px;margin:34px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:16px;margin:0}
h4{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--mute);margin:16px 0 6px}
code,.steps,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",
monospace;font-size:13px}
a{color:#1f4fb8}
.top{display:flex;gap:24px;align-items:center;background:var(--card);border:1px solid var(--line);
border-radius:10px;padding:20px 24px}
.badge{flex:none;min-width:150px;text-align:center;font-size:26px;font-weight:800;
letter-spacing:.08em;color:#fff;border-radius:8px;padding:14px 22px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
.badge.interrupted{background:var(--grey)}
.who{min-width:0}.who p{margin:2px 0;color:var(--mute);overflow-wrap:anywhere}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;
margin:14px 0 0}
.figures div{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:10px 14px}
.figures dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--mute)}
.figures dd{margin:0;font-size:20px;font-weight:650}
.figures .sub{display:block;font-size:12px;font-weight:normal;color:var(--mute)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;vertical-align:top;padding:8px 12px;border-bottom:1px solid var(--line)}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--mute);
background:var(--grey-bg)}
.claims tbody tr:nth-child(even){background:#fafbfc}
.claims td.num{width:36px;color:var(--mute)}
.claims .says{display:block;color:var(--mute);font-size:13px}
.claims td.status{width:170px;font-weight:700;text-align:center;vertical-align:middle}
td.status.pass{background:var(--pass-bg);color:var(--pass)}
td.status.fail{background:var(--fail);color:#fff}
td.status.not-exercised{background:var(--grey-bg);color:var(--grey);font-weight:600}
td.status.unfinished{background:var(--grey-bg);color:var(--ink);font-weight:600}
.claims td.detail{width:34%;font-size:13px;color:var(--mute)}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--fail);
border-radius:8px;padding:16px 20px;margin:14px 0}
.card.unconfirmed{border-left-color:#d89b00}
.card header{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.card header .says{color:var(--mute);font-size:13px}
.tag{font-size:12px;font-weight:700;color:#fff;background:var(--fail);border-radius:4px;
padding:1px 8px}
.unconfirmed .tag{background:#d89b00}
.reason{font-size:15px;font-weight:600;margin:10px 0;overflow-wrap:anywhere}
.facts{display:flex;flex-wrap:wrap;gap:6px 26px;margin:8px 0}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--mute)}
.facts dd{margin:0}
.did{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin-top:12px}
.did>div{border-radius:6px;padding:8px 12px;overflow-wrap:anywhere}
.did h4{margin:0 0 4px}.did p{margin:0}
.did .server{background:var(--fail-bg)}.did .oracle{background:var(--pass-bg)}
.steps{list-style:none;margin:0;padding:8px 0;background:#f8f9fb;border:1px solid var(--line);
border-radius:6px}
.steps li{display:flex;gap:12px;padding:1px 12px}
.steps li:hover{background:#eef1f6}
.steps .n{flex:none;width:var(--n,4ch);text-align:right;color:var(--mute)}
.steps code{white-space:pre-wrap;overflow-wrap:anywhere}
.steps .repeat{background:#eef3fb;margin:3px 0;padding:4px 12px}
.times{flex:none;font-weight:700;color:#1f4fb8}
.block{display:flex;flex-direction:column;border-left:3px solid #9db5e0;padding-left:10px}
.legend{color:var(--mute);font-size:12px}
details.more{margin:6px 0}
details.more summary{cursor:pointer;color:#1f4fb8;font-size:13px}
.notes{margin:10px 0 0;padding-left:20px;color:var(--mute);font-size:13px}
.columns{display:grid;grid-template-columns:3fr 2fr;gap:28px}
.columns>section{min-width:0}
.kv th,.kv td{padding:5px 12px}
.kv th{width:40%;font-weight:normal}
.kv td{overflow-wrap:anywhere;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,
"DejaVu Sans Mono",monospace;font-size:13px}
.none{color:var(--mute)}
.latencies li{margin:2px 0}
footer{margin-top:36px;color:var(--mute);font-size:12px}
@media (max-width:720px){.top{flex-direction:column;align-items:stretch}
.did,.columns{grid-template-columns:1fr}main{padding:16px}}
"""

#: Nothing may be fetched: styles come only from the page itself.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def html_report(
    result: FuzzResult, options: FuzzOptions, declared: Mapping[str, str] | None = None
) -> str:
    """The whole page, as text; ``declared`` holds the behaviours the run was told to expect."""
    findings = findings_of(result)
    rows = claim_rows(result, options)
    verdict = result.verdict if result.verdict in VERDICT_TEXT else "interrupted"
    first = esc(seconds(result.first_failure_s))
    if result.first_failure_s is not None and result.first_failure_example is not None:
        first += f'<span class="sub">in test case {esc(result.first_failure_example)}</span>'
    figures = [
        ("test cases", esc(result.examples)),
        ("steps", esc(result.steps)),
        ("time", esc(seconds(result.elapsed_s))),
        ("first failure", first),
        ("bugs", esc(len(findings))),
        ("restarts", esc(result.restarts)),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>echofuzz {esc(VERDICT_TEXT[verdict])}: {esc(result.target)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        '<section class="top">',
        f'<div class="badge {esc(verdict)}" id="verdict">{esc(VERDICT_TEXT[verdict])}</div>',
        '<div class="who"><h1>echo conformance report</h1>',
        f'<p>target <code class="target">{esc(result.target)}</code></p>',
        f"<p>seed <code>{esc('random' if result.seed is None else result.seed)}</code></p>",
        f'<p class="summary">{esc(headline(rows, verdict))}</p></div></section>',
        dl(figures, "figures"),
        "<h2>claims</h2>",
        claims_table(rows),
    ]
    parts.append(f'<h2 id="findings">findings ({len(findings)})</h2>')
    if findings:
        for number, finding in enumerate(findings, 1):
            parts.append(finding_card(finding, f"finding-{number}", f"finding {number}", "bug"))
    else:
        parts.append('<p class="none">none: the server and the oracle agreed throughout</p>')
    if result.unconfirmed:
        parts.append(f'<h2 id="unconfirmed">unconfirmed ({len(result.unconfirmed)})</h2>')
        parts.append(
            '<p class="none">divergences seen once that did not fail again when confirmed</p>'
        )
        for number, finding in enumerate(result.unconfirmed, 1):
            anchor, title = f"unconfirmed-{number}", f"unconfirmed {number}"
            parts.append(finding_card(finding, anchor, title, "unconfirmed"))
    if result.latencies:
        items = "".join(f"<li>{esc(text)}</li>" for text in result.latencies)
        parts.append(f'<h2 id="latencies">latencies ({len(result.latencies)})</h2>')
        parts.append(
            '<p class="none">stalls that resolved within the confirmation window: '
            "slow, not wrong</p>"
        )
        parts.append(f'<ul class="latencies">{items}</ul>')
    parts.append('<div class="columns"><section>')
    parts.append('<h2 id="options">options</h2>')
    parts.append(kv_table(options_rows(options, result.seed), "kv options"))
    parts.append('</section><section><h2 id="declared">declared behaviours</h2>')
    if declared:
        parts.append(kv_table(sorted(declared.items()), "kv declared"))
    else:
        parts.append('<p class="none">none declared: the oracle used its defaults</p>')
    if result.notes:
        notes = "".join(f"<li>{esc(note)}</li>" for note in result.notes)
        parts.append(f'<h2 id="notes">notes</h2><ul class="notes">{notes}</ul>')
    parts.append("</section></div>")
    parts.append("<footer>written by echofuzz, a differential fuzzer for TCP echo servers</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def write_html(path: Path, text: str) -> None:
    """Write the page so that a browser that reloads it never meets half a file."""
    write_atomically(path, text)
