"""PEP 380 in full, as a Hypothesis state machine over random scripted programs.

Native ``yield from``, the pure-Python expansion in ``impl.pep380`` and
``await`` are driven through the same random calls, step by step; the
comparison itself lives in ``spec.pep380``.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from impl import pep380
from spec.pep380 import (
    PEP380_STOPITERATION_HOLDS,
    Catch,
    Close,
    Delegate,
    Delegator,
    Leaf,
    Next,
    PlainIterator,
    Raise,
    Return,
    Send,
    Session,
    Throw,
    Yield,
    check_yield_from_equivalence,
    standard_flavours,
)
from tests import broken_generators as broken

CATCHABLE = [
    (ValueError,),
    (KeyError,),
    (GeneratorExit,),
    (RuntimeError,),
    (ValueError, GeneratorExit),
    (Exception,),
    (BaseException,),
]
THROWABLE = [ValueError, KeyError, GeneratorExit, StopIteration]
RAISABLE = [ValueError, KeyError, GeneratorExit, StopIteration]


def built(cls, *strategies):
    """Like st.builds, but shown with the class's own repr in failure reports.

    (Hypothesis pretty-prints st.builds results as nested calls, which takes
    minutes for the deeply nested programs below.)
    """
    return st.tuples(*strategies).map(lambda args: cls(*args))


def weighted(*choices):
    """st.one_of with weights. (one_of ignores a strategy given twice, so each
    repetition is a distinct, identity-mapped copy.)"""
    return st.one_of(*[s.map(_same) for weight, s in choices for _ in range(weight)])


def _same(x):
    return x


values = st.integers(0, 9)
# "return" twice: a subgenerator that returns in reaction to throw() is what
# tells an expansion that forgets throw()'s StopIteration from a correct one.
some_catch = built(
    Catch,
    st.sampled_from(CATCHABLE),
    st.sampled_from(["continue", "return", "return", "reraise", "raise"]),
    values,
)
catches = weighted((1, st.just(Catch())), (2, some_catch))
yields = built(Yield, values, catches)
returns = built(Return, values)
raises = built(Raise, st.sampled_from(RAISABLE))


def _starting_with(first, rest, *, max_size):
    """Sequences that begin with ``first``: where most of the behaviour is."""
    return st.tuples(first, st.lists(rest, max_size=max_size - 1)).map(
        lambda pair: (pair[0], *pair[1])
    )


leaf_steps = weighted((3, yields), (1, returns), (1, raises))
leaves = st.one_of(
    built(Leaf, _starting_with(yields, leaf_steps, max_size=4)),
    built(Leaf, st.lists(leaf_steps, max_size=4).map(tuple)),
)
plain_iterators = built(PlainIterator, st.lists(values, max_size=3).map(tuple))


def _delegators(children):
    delegations = built(Delegate, children, catches)
    steps = weighted((2, delegations), (1, yields), (1, returns), (1, raises))
    return st.one_of(
        built(Delegator, _starting_with(delegations, steps, max_size=4)),
        built(Delegator, st.lists(steps, min_size=1, max_size=4).map(tuple)),
    )


def _children(depth):
    """Subiterators nested at most ``depth`` delegators deep; half of them leaves."""
    if depth == 0:
        return weighted((2, leaves), (1, plain_iterators))
    return weighted((2, leaves), (1, plain_iterators), (1, _delegators(_children(depth - 1))))


programs = _delegators(_children(3))
actions = weighted(
    (2, st.just(Next())),
    (1, built(Send, values)),
    (2, built(Throw, st.sampled_from(THROWABLE))),
    (1, st.just(Close())),
)
calls = st.one_of(
    _starting_with(st.just(Next()), actions, max_size=12).map(list),
    st.lists(actions, min_size=1, max_size=12),
)


def machine_for(impl):
    """The state machine, for the real expansion or for a broken one."""

    class YieldFromMachine(RuleBasedStateMachine):
        session: Session | None = None

        def running(self) -> bool:
            return self.session is not None and not self.session.finished

        def exhausted(self) -> bool:
            return self.session is not None and self.session.finished

        @initialize(program=programs)
        def build(self, program):
            self.session = Session(program, standard_flavours(impl))

        @precondition(running)
        @rule()
        def call_next(self):
            self.session.step(Next())

        @precondition(running)
        @rule(value=values)
        def send(self, value):
            self.session.step(Send(value))

        @precondition(running)
        @rule(exc_type=st.sampled_from(THROWABLE))
        def throw(self, exc_type):
            self.session.step(Throw(exc_type))

        @precondition(running)
        @rule()
        def close(self):
            self.session.step(Close())

        @precondition(running)
        @rule()
        def run_to_completion(self):
            self.session.run_to_completion()

        @precondition(exhausted)
        @rule(action=actions)
        def resume_after_exhaustion(self, action):
            self.session.step_exhausted(action)

        def teardown(self):
            if self.session is not None:
                self.session.close()

    return YieldFromMachine


TestNativeExpandedAndAwaitedDelegationAgreeAtEveryStep = machine_for(pep380).TestCase


RETURNS_WHEN_THROWN_AT = Delegator(
    (Delegate(Leaf((Yield(1, Catch((ValueError,), "return", 7)), Yield(2)))), Yield(3))
)
"""PEP 380: the subgenerator's return value in reaction to throw() is the value of yield from."""

CLOSED_WHILE_ON_A_PLAIN_ITERATOR = Delegator((Delegate(PlainIterator((1, 2))), Yield(3)))
"""PEP 380: close() while delegating to an iterator without close() just closes the delegator."""


@given(programs, calls)
@example(RETURNS_WHEN_THROWN_AT, [Next(), Throw(ValueError), Next()])
@example(CLOSED_WHILE_ON_A_PLAIN_ITERATOR, [Next(), Close()])
@example(CLOSED_WHILE_ON_A_PLAIN_ITERATOR, [Next(), Throw(GeneratorExit)])
def test_any_program_and_calls_behave_alike_in_all_three_flavours(program, made):
    check_yield_from_equivalence(pep380, program, made)


@pytest.mark.parametrize(
    ("expansion", "program", "made"),
    [
        (
            broken.ExpansionYieldingWhatThrowReturned,
            RETURNS_WHEN_THROWN_AT,
            [Next(), Throw(ValueError), Next()],
        ),
        (broken.ExpansionClosingAnyIterator, CLOSED_WHILE_ON_A_PLAIN_ITERATOR, [Next(), Close()]),
    ],
    ids=["forgets-throws-return", "closes-a-plain-iterator"],
)
def test_the_pinned_examples_reject_the_expansions_they_are_there_for(expansion, program, made):
    with pytest.raises(AssertionError, match="expansion differs"):
        check_yield_from_equivalence(broken.Variant(expansion), program, made)


def test_an_expanded_generator_function_keeps_the_name_and_docstring_of_its_body():
    def delegator():
        """Delegates once."""
        return (yield pep380.yield_from([1]))

    expanded = pep380.expanded(delegator)
    assert (expanded.__name__, expanded.__doc__) == ("delegator", "Delegates once.")
    assert expanded.__wrapped__ is delegator


def test_a_subgenerator_that_swallows_generator_exit_makes_close_raise_everywhere():
    swallow = Catch((GeneratorExit,), "continue")
    program = Delegator((Delegate(Leaf((Yield(1, swallow), Yield(2)))),))
    session = Session(program, standard_flavours(pep380))
    try:
        session.step(Next())
        closing = session.step(Close())
    finally:
        session.close()
    assert closing.outcome == ("raised", "RuntimeError", ("generator ignored GeneratorExit",))
    assert closing.states == ("CLOSED", "SUSPENDED")  # the delegator ends, its subgenerator not


def test_a_plain_iterator_rejects_sent_values_with_attribute_error_everywhere():
    program = Delegator((Delegate(PlainIterator((1, 2))),))
    session = Session(program, standard_flavours(pep380))
    try:
        session.step(Next())
        outcome = session.step(Send(3)).outcome
    finally:
        session.close()
    assert outcome == (
        "raised",
        "AttributeError",
        ("'list_iterator' object has no attribute 'send'",),
    )


def test_throw_passes_by_a_plain_iterator_without_closing_anything():
    program = Delegator((Delegate(PlainIterator((1, 2)), Catch((ValueError,), "return", 5)),))
    session = Session(program, standard_flavours(pep380))
    try:
        session.step(Next())
        assert session.step(Throw(ValueError)).outcome == ("returned", 5)
    finally:
        session.close()


@settings(max_examples=20)
@given(st.integers(1, 30))
def test_deep_nesting_delegates_to_the_innermost_subgenerator(depth):
    program: Delegator = Delegator((Delegate(Leaf((Yield(1), Return(2)))),))
    for _ in range(depth):
        program = Delegator((Delegate(program),))
    check_yield_from_equivalence(pep380, program, [Next(), Throw(ValueError)])


def test_a_stop_iteration_thrown_past_a_plain_iterator_follows_the_pep_in_the_expansion():
    """Natively it depends on the interpreter: the PEP's way on CPython 3.10 and
    3.11, taken as the iterator's return value on 3.12.1 and 3.13.0."""

    def native():
        return (yield from [1, 2])

    @pep380.expanded
    def expansion():
        return (yield pep380.yield_from([1, 2]))

    for delegator, follows_pep in ((native, PEP380_STOPITERATION_HOLDS), (expansion, True)):
        generator = delegator()
        next(generator)
        if follows_pep:
            with pytest.raises(RuntimeError, match="generator raised StopIteration"):
                generator.throw(StopIteration("thrown"))
        else:
            with pytest.raises(StopIteration) as stopped:
                generator.throw(StopIteration("thrown"))
            assert stopped.value.value == "thrown"
