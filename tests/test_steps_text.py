"""Reproductions as numbered lines: repeated runs fold into one line, everything else stays."""

import io
import random

from echofuzz.outputs.steps_text import MIN_REPEATS, compress, write_lines
from echofuzz.outputs.summary import print_steps
from echofuzz.vocabulary import Payload, Step


def leak_cycle(name):
    """The shape of a descriptor leak's history: open, half-close, end the test case."""
    return [Step("connect", conn=name), Step("half_close", conn=name), Step("finish")]


def printed(steps):
    out = io.StringIO()
    print_steps(steps, out)
    return out.getvalue().splitlines()


def test_a_short_list_without_repetition_prints_one_numbered_line_per_step():
    steps = [
        Step("connect", conn="c1"),
        Step("send", conn="c1", payload=Payload.literal(b"hi")),
        Step("connect", conn="c2"),
        Step("expect", conn="c1"),
        Step("finish"),
    ]
    assert printed(steps) == [f"  {n}. {s.describe()}" for n, s in enumerate(steps, 1)]


def test_numbers_are_right_aligned_to_the_widest_label():
    steps = [Step("connect", conn="c1")] + [
        Step("send", conn="c1", payload=Payload.literal(b"x" * n)) for n in range(1, 12)
    ]
    lines = printed(steps)
    assert lines[0] == f"   1. {steps[0].describe()}"
    assert lines[-1] == f"  12. {steps[-1].describe()}"


def test_two_repetitions_stay_as_they_are_and_three_fold_into_one_line():
    for times in (MIN_REPEATS - 1, MIN_REPEATS):
        steps = [s for n in range(1, times + 1) for s in leak_cycle(f"c{n}")]
        steps.append(Step("connect", conn="c99"))
        lines = compress(steps)
        folded = [line for line in lines if line.repeats > 1]
        if times < MIN_REPEATS:
            assert not folded and len(lines) == len(steps)
        else:
            assert len(folded) == 1 and folded[0].repeats == times
            assert (folded[0].first, folded[0].last) == (1, 3 * times)


def test_an_895_step_leak_history_prints_as_a_handful_of_lines():
    steps = [Step("connect", conn="c1"), Step("send", conn="c1", payload=Payload.literal(b"x"))]
    for n in range(2, 299):
        steps += leak_cycle(f"c{n}")
    steps += [Step("connect", conn="c299"), Step("half_close", conn="c299")]
    assert len(steps) == 895
    lines = printed(steps)
    assert len(lines) <= 6, lines
    assert any(
        "repeat 297 x: connect c; half-close c, expect the rest, then EOF; finish" in line
        and "c: c2, c3, ..., c298" in line
        for line in lines
    ), lines
    assert lines[-1].endswith(f"895. {steps[-1].describe()}")
    assert not any("more steps" in line for line in lines)


def test_the_lines_cover_every_step_once_in_order_and_a_fold_stands_for_its_steps():
    rng = random.Random(5)
    for _ in range(300):
        steps = []
        for _ in range(rng.randint(1, 60)):
            name = f"c{rng.randint(1, 3)}"
            op = rng.choice(["connect", "send", "expect", "finish"])
            if op == "send":
                steps.append(Step("send", conn=name, payload=Payload.literal(b"ab")))
            else:
                steps.append(Step(op) if op == "finish" else Step(op, conn=name))
        lines = compress(steps)
        assert [line.first for line in lines] == [1] + [line.last + 1 for line in lines[:-1]]
        assert lines[-1].last == len(steps) and lines[-1].count == 1
        for line in lines:
            chunk = steps[line.first - 1 : line.last]
            if line.repeats == 1:
                assert line.text == chunk[0].describe()
                continue
            size = len(line.block)
            assert size * line.repeats == len(chunk) and line.repeats >= MIN_REPEATS
            ops = [s.op for s in chunk[:size]]
            assert [s.op for s in chunk] == ops * line.repeats


def test_a_name_that_stays_the_same_is_kept_and_one_that_changes_becomes_a_placeholder():
    steps = [Step("connect", conn="c1")]
    for n in range(2, 6):
        steps += [
            Step("connect", conn=f"c{n}"),
            Step("send", conn="c1", payload=Payload.literal(b"ping")),
            Step("close", conn=f"c{n}"),
        ]
    steps.append(Step("expect", conn="c1"))
    (fold,) = [line for line in compress(steps) if line.repeats > 1]
    assert fold.text == (
        "repeat 4 x: connect c; send(c1, b'ping'); close c after all its echoes"
        "  (c: c2, c3, ..., c5)"
    )
    assert fold.block == (
        "c = connect()",
        "send(c1, b'ping')",
        "expect all echoes on c, then close it",
    )


def test_payloads_that_differ_in_seed_fold_and_say_so_but_other_sizes_do_not_fold():
    def run(sizes, seeds):
        steps = [Step("connect", conn="c1")]
        steps += [
            Step("send", conn="c1", payload=Payload.generated(size, seed))
            for size, seed in zip(sizes, seeds, strict=True)
        ]
        return compress([*steps, Step("finish")])

    seeded = run([100] * 4, [1, 2, 3, 4])
    assert [line.text for line in seeded if line.repeats > 1] == [
        "repeat 4 x: send(c1, 100 generated bytes, seed varies)"
    ]
    same = run([100] * 4, [7] * 4)
    assert [line.text for line in same if line.repeats > 1] == [
        "repeat 4 x: send(c1, 100 generated bytes, seed 7)"
    ]
    assert all(line.repeats == 1 for line in run([100, 200, 300, 400], [1] * 4))


def test_the_run_covering_most_steps_wins_and_the_last_step_is_never_folded():
    send = Step("send", conn="c1", payload=Payload.literal(b"a"))
    lines = compress([Step("connect", conn="c1"), *[send] * 6])
    assert [(line.label, line.repeats) for line in lines] == [("1", 1), ("2-6", 5), ("7", 1)]
    block = [send, Step("expect", conn="c1")]
    lines = compress([Step("connect", conn="c1"), *block * 3, Step("finish")])
    assert [(line.label, line.repeats, len(line.block)) for line in lines] == [
        ("1", 1, 0),
        ("2-7", 3, 2),
        ("8", 1, 0),
    ]


def test_a_long_listing_is_elided_in_the_middle_with_the_count_of_steps_left_out():
    steps = [Step("connect", conn="c1")] + [
        Step("send", conn="c1", payload=Payload.generated(n, seed=1)) for n in range(1, 301)
    ]
    out = io.StringIO()
    write_lines(steps, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 121
    assert (
        lines[60].strip() == f"... {len(steps) - 120} more steps (all are in the report and script)"
    )
    assert lines[-1].strip() == f"301. {steps[-1].describe()}"
