"""The short fuzz run for CI (issue 18): every target of targets.py gets a few hundred mutated
inputs (a few dozen for the slow ones) under hypothesis, derandomised so CI is reproducible;
none may raise outside vfl's error types. The long run is scripts/fuzz_long.py."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, Target, mutate, run_one

FAST_EXAMPLES = 150
SLOW_EXAMPLES = 10


def _check(target: Target, data: bytes) -> None:
    finding = run_one(target, data)
    assert finding is None, (
        f"{target.name}: {type(finding).__name__}: {finding} (input {data[:160]!r}, {len(data)} bytes)"
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_run_clean(name: str) -> None:
    """Each seed is itself a fine input: the mutations start from inputs that reach deep."""
    target = TARGETS[name]
    assert target.corpus(), f"{name} has no seeds: run python -m tests.fuzz.make_corpus"
    for seed in target.corpus():
        _check(target, seed)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_exception_outside_vfl_errors(name: str) -> None:
    target = TARGETS[name]

    @settings(
        max_examples=SLOW_EXAMPLES if target.slow else FAST_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.randoms(use_true_random=False))
    def fuzz(rnd: random.Random) -> None:
        _check(target, mutate(rnd, target))

    fuzz()


def test_mutations_change_inputs() -> None:
    """The mutator is not the identity (a fuzz run that only replays seeds proves nothing)."""
    target = TARGETS["ndarray"]
    rnd = random.Random(1)
    seeds = set(target.corpus())
    outs = [mutate(rnd, target) for _ in range(200)]
    assert sum(o not in seeds for o in outs) > 150
