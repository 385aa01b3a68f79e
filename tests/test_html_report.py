"""The HTML conformance report: one self-contained page, read as a parser and as a browser sees it.

The results are built by hand, so that every claim, status and escape the page
must show is known in advance. The browser tests run Debian's Chromium
headless (and skip without it): once through its own ``--screenshot``, once
over the DevTools protocol to see script errors and fetches as they happen.
"""

import dataclasses
import re
from html.parser import HTMLParser

import pytest

from echofuzz.options import DEFAULTS
from echofuzz.outputs.html import claim_rows, html_report, not_exercised, write_html
from echofuzz.result import CLAIMS, Finding, FuzzResult
from echofuzz.vocabulary import Payload, Step
from tests import headless

EVIL = "<script>alert('pwned')</script> & \"quoted\""
VOID = {"meta", "br", "hr", "img", "link", "input", "source", "wbr", "col", "area", "base"}


# -- the results ---------------------------------------------------------------------------


def leak_history(cycles):
    """A history of ``cycles`` test cases that each open and half-close one connection."""
    steps = []
    for n in range(1, cycles + 1):
        steps += [Step("connect", conn=f"c{n}"), Step("half_close", conn=f"c{n}"), Step("finish")]
    return steps


def passing():
    return FuzzResult(
        "pass", "spawn: python -m impl.echo --port {port}", 7, examples=100, steps=2417,
        elapsed_s=21.4,
    )  # fmt: skip


def failing():
    history = [
        *leak_history(198),
        Step("connect", conn="c199"),
        Step("send", conn="c199", payload=Payload.literal(b"hello")),
        Step("expect", conn="c199"),
        Step("send", conn="c199", payload=Payload.literal(b"world")),
        Step("expect", conn="c199"),
        Step("half_close", conn="c199"),
    ]
    assert len(history) == 600
    bugs = [
        Finding(
            reason=f"c1: echoed bytes differ at offset 3 {EVIL}",
            claim="intact",
            reproduction=[
                Step("connect", conn="c1"),
                Step("send", conn="c1", payload=Payload.literal(b"abc\xff<b>")),
                Step("expect", conn="c1"),
            ],
            reproduced=True,
            needs_history=False,
            first_seen_s=0.8,
            hits=12,
            signature="intact:c1:offset",
            server_did="sent back b'abc\\xfe<b>'",
            oracle_did="sent back b'abc\\xff<b>'",
        ),
        Finding(
            reason="c199: no EOF after the half-close; the server closed the connection instead",
            claim="half_close",
            reproduction=history,
            reproduced=True,
            needs_history=True,
            first_seen_s=14.2,
            hits=3,
            server_did="reset the connection (ECONNRESET)",
            oracle_did="echoed b'world', then EOF",
            notes=["shows only after 198 earlier test cases on the same server process"],
        ),
        Finding(
            reason="c3 held up while c2 stopped reading",
            claim="flow_control",
            reproduction=[
                Step("slow_start", conn="c1", payload=Payload.generated(1 << 20, 4)),
                Step("connect", conn="c2"),
                Step("send", conn="c2", payload=Payload.literal(b"ping")),
                Step("expect", conn="c2"),
            ],
            reproduced=False,
            needs_history=False,
            first_seen_s=9.0,
        ),
    ]
    unconfirmed = [
        Finding(
            reason="c2: a late byte",
            claim="order",
            reproduction=[Step("connect", conn="c1"), Step("expect", conn="c1")],
            reproduced=False,
            needs_history=False,
            first_seen_s=3.0,
        )
    ]
    return FuzzResult(
        "fail", "127.0.0.1:7007", 42, examples=230, steps=5210, elapsed_s=61.5,
        first_failure_s=0.8, first_failure_example=2, reason=bugs[0].reason,
        reproduction=bugs[0].reproduction, reproduced=True, restarts=2,
        notes=["the target was restarted 2 times"], bugs=bugs, unconfirmed=unconfirmed,
        latencies=["c4: the echo of 4M took 1.8 s (deadline 1 s)"],
    )  # fmt: skip


def interrupted():
    return FuzzResult(
        "interrupted", "127.0.0.1:7008", None, examples=17, steps=301, elapsed_s=4.2,
        first_failure_s=2.0, reason="c1: the connection was reset",
        reproduction=[Step("connect", conn="c1"), Step("reset", conn="c1")], reproduced=False,
        notes=["interrupted by the user; figures are partial"],
    )  # fmt: skip


DECLARED = {"half_close": "close"}


# -- a parse of the page -------------------------------------------------------------------


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict
    children: list = dataclasses.field(default_factory=list)

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.walk()

    def find_all(self, tag=None, css=None, **attrs):
        return [
            e
            for e in self.walk()
            if (tag is None or e.tag == tag)
            and (css is None or css in (e.attrs.get("class") or "").split())
            and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


class Page(HTMLParser):
    """The page as a tree, with what a browser would fetch or run collected on the way."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.attrs = []
        self.doctype = None
        self.feed(text)
        self.close()

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.attrs += attrs
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.attrs += attrs
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(text):
    page = Page(text)
    assert page.stack == [page.root], "every element is closed"
    return page


def claims(page):
    return {
        row.attrs["id"].removeprefix("claim-"): row for row in page.root.find_all("tr", "claim")
    }


def status(row):
    return row.find_all("td", "status")[0].text()


# -- the page's content --------------------------------------------------------------------


def test_a_pass_has_a_green_pass_badge_and_every_claim_passes():
    page = parse(html_report(passing(), DEFAULTS))
    assert page.doctype == "DOCTYPE html"
    (badge,) = page.root.find_all(id="verdict")
    assert badge.text() == "PASS" and "pass" in badge.attrs["class"].split()
    rows = claims(page)
    assert list(rows) == list(CLAIMS)
    assert {status(row) for row in rows.values()} == {"PASS"}
    assert page.root.find_all("p", "summary")[0].text() == "every claim exercised held"
    assert not page.root.find_all("article")
    assert "none: the server and the oracle agreed" in page.root.text()
    assert (
        "spawn: python -m impl.echo --port {port}" in page.root.find_all("code", "target")[0].text()
    )


def test_a_failure_marks_the_broken_claims_fail_and_links_each_to_its_finding_card():
    result = failing()
    page = parse(html_report(result, DEFAULTS, DECLARED))
    assert page.root.find_all(id="verdict")[0].text() == "FAIL"
    assert page.root.find_all("p", "summary")[0].text() == "3 of 8 claims failed"
    rows = claims(page)
    broken = {claim for claim, row in rows.items() if row.attrs["data-status"] == "fail"}
    assert broken == {"intact", "half_close", "flow_control"}
    assert status(rows["intact"]) == "FAIL (1 bug)"
    assert status(rows["order"]) == "PASS"
    assert "unconfirmed" in rows["order"].text()
    cards = page.root.find_all("article", "bug")
    assert len(cards) == 3
    for number, (card, bug) in enumerate(zip(cards, result.bugs, strict=True), 1):
        assert card.attrs["id"] == f"finding-{number}"
        (link,) = rows[bug.claim].find_all("a")
        assert link.attrs["href"] == f"#finding-{number}"
        assert card.find_all("p", "reason")[0].text() == bug.reason
        server, oracle = card.find_all("div", "server")[0], card.find_all("div", "oracle")[0]
        assert server.text() == "the server did" + (bug.server_did or "-")
        assert oracle.text() == "the oracle did" + (bug.oracle_did or "-")
    facts = cards[1].find_all("dl", "facts")[0].text()
    assert "needs historyyes" in facts and "hits3 test cases" in facts and "14.2 s" in facts
    assert "reproducedno" in cards[2].find_all("dl", "facts")[0].text()


def test_a_600_step_history_is_folded_into_a_few_lines_with_every_step_behind_a_disclosure():
    card = parse(html_report(failing(), DEFAULTS)).root.find_all(id="finding-2")[0]
    folded, *rest = card.find_all("ol", "steps")
    lines = folded.find_all("li")
    assert len(lines) <= 8
    (repeat,) = [li for li in lines if "repeat" in (li.attrs.get("class") or "")]
    assert "repeat 198 \u00d7" in repeat.text()
    assert "half-close c; expect the rest of the echo, then EOF" in repeat.text()
    assert lines[-1].find_all("span", "n")[0].text() == "600"
    (every,) = rest
    assert len(every.find_all("li")) == 600
    assert "all 600 steps" in card.find_all("details")[0].find_all("summary")[0].text()


def test_a_reason_with_markup_is_escaped_not_rendered():
    text = html_report(failing(), DEFAULTS)
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in text
    page = parse(text)
    assert not page.root.find_all("script")
    assert EVIL in page.root.find_all(id="finding-1")[0].text()
    assert "b'abc\\xff<b>'" in page.root.find_all(id="finding-1")[0].text()


def test_an_interrupted_run_is_grey_and_its_failure_as_found_still_gets_a_card():
    page = parse(html_report(interrupted(), DEFAULTS))
    (badge,) = page.root.find_all(id="verdict")
    assert badge.text() == "INTERRUPTED" and "interrupted" in badge.attrs["class"].split()
    assert page.root.find_all("p", "summary")[0].text() == (
        "a failure not classified by claim before the run was interrupted"
    )
    rows = claims(page)
    assert status(rows["other"]) == "FAIL (1 bug)"
    assert {status(rows[c]) for c in CLAIMS} == {"no failure yet"}
    (card,) = page.root.find_all("article")
    assert "c1: the connection was reset" in card.text() and "not minimal" in card.text()
    assert "interrupted by the user" in page.root.find_all(id="notes")[0].text() + page.root.text()
    assert "seedrandom" in page.root.find_all("section", "top")[0].text().replace(" ", "")


def test_the_options_and_the_declared_behaviours_are_listed():
    options = dataclasses.replace(
        DEFAULTS, max_connections=3, ops=frozenset({"connect", "send", "finish"}),
        startup_timeout=7.5, database="redis://127.0.0.1:6379",
    )  # fmt: skip
    page = parse(html_report(failing(), options, DECLARED))
    shown = {
        row.find_all("th")[0].text(): row.find_all("td")[0].text()
        for row in page.root.find_all("table", "options")[0].find_all("tr")
    }
    assert shown["--max-connections"] == "3"
    assert shown["--ops"] == "connect,send"
    assert shown["--startup-timeout"] == "7.5"
    assert shown["--database"] == "redis://127.0.0.1:6379"
    assert shown["--seed"] == "42" and shown["--max-payload"] == "4M"
    declared = page.root.find_all("table", "declared")[0].text()
    assert "half_close" in declared and "close" in declared
    bare = parse(html_report(passing(), DEFAULTS, None))
    assert "none declared" in bare.root.find_all(id="declared")[0].text() + bare.root.text()


def test_the_latencies_and_unconfirmed_sections_appear_only_when_there_are_some():
    full = parse(html_report(failing(), DEFAULTS)).root
    assert "the echo of 4M took 1.8 s" in full.find_all("ul", "latencies")[0].text()
    assert full.find_all("article", "unconfirmed")[0].attrs["id"] == "unconfirmed-1"
    empty = parse(html_report(passing(), DEFAULTS)).root
    assert not empty.find_all(id="latencies") and not empty.find_all(id="unconfirmed")


@pytest.mark.parametrize("make", [passing, failing, interrupted])
def test_the_page_refers_to_nothing_outside_itself(make):
    text = html_report(make(), DEFAULTS, DECLARED)
    page = parse(text)
    for name, value in page.attrs:
        if name in ("src", "href", "srcset", "action", "data", "poster", "background"):
            assert value.startswith("#"), (name, value)
    assert not page.root.find_all("script") and not page.root.find_all("link")
    style = "".join(e.text() for e in page.root.find_all("style"))
    assert style and "@import" not in style and "url(" not in style.replace(" ", "")
    assert not re.search(r"(?i)\b(https?|ftp|data):", text.replace("http-equiv", ""))
    policy = page.root.find_all("meta", http_equiv="Content-Security-Policy")[0]
    assert "default-src 'none'" in policy.attrs["content"]


# -- which claims a run can have tested ---------------------------------------------------


def options(**changes):
    return dataclasses.replace(DEFAULTS, **changes)


def test_a_claim_the_options_cannot_exercise_is_not_exercised_rather_than_passed():
    assert all(not_exercised(claim, DEFAULTS) is None for claim in CLAIMS)
    no_slow = frozenset(DEFAULTS.ops - {"slow_start"})
    assert not_exercised("flow_control", options(ops=no_slow))
    assert not_exercised("flow_control", options(max_payload=32 * 1024))
    assert not_exercised("flow_control", options(max_connections=1))
    assert not_exercised("isolation", options(max_connections=1))
    assert not_exercised("isolation", options(ops=frozenset(DEFAULTS.ops - {"burst"}))) is None
    silent = frozenset({"connect", "half_close", "close", "finish"})
    assert {c for c in CLAIMS if not_exercised(c, options(ops=silent))} == {
        "intact", "order", "complete", "isolation", "flow_control",
    }  # fmt: skip
    rows = claim_rows(passing(), options(max_connections=1))
    assert [r.claim for r in rows if r.status == "not-exercised"] == ["isolation", "flow_control"]


def test_a_finding_fails_its_claim_even_when_the_options_say_it_was_not_exercised():
    rows = {r.claim: r for r in claim_rows(failing(), options(max_connections=1))}
    assert rows["flow_control"].status == "fail" and rows["isolation"].status == "not-exercised"
    text = html_report(failing(), options(max_connections=1))
    row = claims(parse(text))["isolation"]
    assert status(row) == "not exercised" and "max_connections is 1" in row.text()


def test_write_html_replaces_the_file_whole(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    write_html(target, html_report(passing(), DEFAULTS))
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


# -- in a real browser ---------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    not headless.have_chromium(),
    reason=f"no {headless.CHROMIUM}: apt-get install chromium to run the browser tests",
)


@needs_chromium
def test_chromium_renders_the_page_to_a_screenshot_of_its_size(tmp_path):
    page = tmp_path / "report.html"
    write_html(page, html_report(failing(), DEFAULTS, DECLARED))
    shot = tmp_path / "shot.png"
    done = headless.screenshot(page.as_uri(), shot, tmp_path)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert headless.png_size(data) == (1200, 1600)
    # A blank 1200x1600 page compresses to a few KB; text, tables and colour do not.
    assert len(data) > 40_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not headless.have_chromium():
        pytest.skip(f"no {headless.CHROMIUM}: apt-get install chromium to run the browser tests")
    with headless.Browser(tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


def test_the_browser_notices_a_script_error_and_a_fetch_on_a_page_that_has_them(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><title>bad</title><p>x</p>"
        '<img src="http://127.0.0.1:9/nothing.png"><script>no_such_function()</script>'
    )
    since = browser.load(bad.as_uri())
    problems = browser.problems(since, bad.as_uri())
    assert any(p.startswith("uncaught:") and "no_such_function" in p for p in problems), problems
    assert any(p == "fetched: http://127.0.0.1:9/nothing.png" for p in problems), problems


@pytest.mark.parametrize("make", [passing, failing, interrupted])
def test_in_the_browser_the_page_renders_with_no_script_error_and_fetches_nothing(
    browser, tmp_path, make
):
    result = make()
    page = tmp_path / "report.html"
    write_html(page, html_report(result, DEFAULTS, DECLARED))
    since = browser.load(page.as_uri())
    assert browser.problems(since, page.as_uri()) == []
    assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
    text = browser.evaluate("document.body.innerText")
    verdict = {"pass": "PASS", "fail": "FAIL", "interrupted": "INTERRUPTED"}[result.verdict]
    assert browser.evaluate("document.getElementById('verdict').innerText") == verdict
    assert "echo conformance report" in text and result.target in text
    assert browser.evaluate("document.querySelectorAll('tr.claim').length") >= len(CLAIMS)
    # The colours came through: green for a pass, red for a fail, grey for an interruption.
    colour = browser.evaluate(
        "getComputedStyle(document.getElementById('verdict')).backgroundColor"
    )
    red, green, blue = map(int, re.findall(r"\d+", colour)[:3])
    expected = {
        "pass": green > red,
        "fail": red > green,
        "interrupted": max(red, green, blue) - min(red, green, blue) < 40,
    }
    assert expected[result.verdict], colour
    # Nothing is wider than the window: no horizontal scrolling at 1200 px.
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if result.bugs:
        assert browser.evaluate("document.querySelectorAll('article.bug').length") == 3
        assert EVIL in text
    assert len(browser.screenshot()) > 20_000
