"""One option table: the command line, the pytest plugin and the README agree with FuzzOptions.

Defaults are written once, in ``FuzzOptions``; these tests read them back from
``echofuzz --help``, from the plugin's ``--help`` and from the README's option
table, so that none of the three can drift from the code.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from echofuzz.frontends.cli import build_parser
from echofuzz.options import DEFAULTS, OPTIONS, command_words, options_from, parse_values

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CLI_OPTIONS = [o for o in OPTIONS if o.where != "plugin" and o.dest != "address"]
PLUGIN_OPTIONS = [o for o in OPTIONS if o.where != "cli"]


def readme_rows():
    """``{flag: default}`` from the README's option table (rows that start with a flag)."""
    rows = {}
    for line in README.splitlines():
        match = re.match(r"\| `(--[\w-]+)[^|]*\|\s*([^|]*?)\s*\|", line)
        if match:
            rows[match[1]] = match[2].strip().strip("`")
    return rows


def test_the_readme_lists_every_command_line_option_with_its_default():
    rows = readme_rows()
    assert set(rows) == {o.flag for o in CLI_OPTIONS}
    for option in CLI_OPTIONS:
        assert rows[option.flag] == option.shown_default(), option.flag


def test_the_command_lines_help_shows_every_option_and_its_default():
    text = " ".join(build_parser().format_help().split())
    for option in CLI_OPTIONS:
        assert option.flag in text
        if option.shown_default():
            assert f"(default {option.shown_default()})" in text, option.flag


def test_the_plugin_offers_every_option_as_an_echo_flag(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for option in PLUGIN_OPTIONS:
        assert option.plugin_flag in text
        if option.shown_default():
            assert f"(default {option.shown_default()})" in text, option.plugin_flag


@pytest.mark.parametrize(
    ("given", "field", "value"),
    [
        ({"max_examples": "7"}, "max_examples", 7),
        ({"deadline": "0.25"}, "deadline", 0.25),
        ({"max_payload": "64K"}, "max_payload", 65536),
        ({"ops": "connect,send"}, "ops", frozenset({"connect", "send", "finish"})),
        ({"no_shrink": "yes"}, "shrink", False),
    ],
)
def test_a_parsed_option_lands_in_its_field_and_spells_back_the_same(given, field, value):
    options = options_from(parse_values(given))
    assert getattr(options, field) == value
    words = command_words(options)
    assert words, "an option that differs from its default must be spelled"
    again = vars(build_parser().parse_args(["127.0.0.1:7000", *words]))
    assert options_from(again) == options


def test_options_left_out_keep_the_defaults_and_spell_as_nothing():
    assert options_from({}) == DEFAULTS
    assert command_words(DEFAULTS) == []


def test_a_usage_error_is_answered_before_trio_or_hypothesis_is_imported():
    code = (
        "import sys\n"
        "from echofuzz.frontends import cli\n"
        "status = cli.main(['--max-examples', '0', '127.0.0.1:7000'])\n"
        "heavy = sorted(m for m in ('trio', 'hypothesis') if m in sys.modules)\n"
        "print(status, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stdout.split("\n")[0] == "2 []", done.stdout + done.stderr
    assert done.stderr.startswith("echofuzz: error: argument --max-examples")
