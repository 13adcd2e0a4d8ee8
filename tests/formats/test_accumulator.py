"""The accumulator fold: bytes24(keccak256(hash || tag || value)) and the leaf count."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_hash.auto import keccak
from hypothesis import given
from hypothesis import strategies as st

from notary.errors import InvalidInput
from notary.formats.accumulator import Accumulator, BatchStep, RevisionStep, fold

B32 = st.binary(min_size=32, max_size=32)
STEPS = st.lists(
    st.one_of(
        B32.map(RevisionStep),
        st.builds(BatchStep, B32, st.integers(min_value=1, max_value=2**32 - 1)),
    ),
    max_size=20,
)


def test_starts_at_zero() -> None:
    assert fold([]) == (bytes(24), 0)
    assert Accumulator().as_tuple() == (bytes(24), 0)


def test_one_revision_step_by_hand() -> None:
    leaf = b"\xab" * 32
    assert fold([RevisionStep(leaf)]) == (keccak(bytes(24) + b"\x00" + leaf)[:24], 1)


def test_one_batch_step_by_hand() -> None:
    root = b"\xcd" * 32
    assert fold([BatchStep(root, 7)]) == (keccak(bytes(24) + b"\x01" + root)[:24], 7)


def test_revision_and_batch_of_one_differ() -> None:
    value = b"\x11" * 32
    assert fold([RevisionStep(value)]) != fold([BatchStep(value, 1)])


@given(STEPS)
def test_fold_equals_stepwise_application_and_counts_leaves(steps: list) -> None:
    acc = Accumulator()
    for step in steps:
        acc = acc.apply(step)
    assert fold(steps) == acc.as_tuple()
    expected = sum(1 if isinstance(s, RevisionStep) else s.leaf_count for s in steps)
    assert acc.count == expected


@given(STEPS, STEPS)
def test_fold_resumes_from_a_checkpoint(first: list, second: list) -> None:
    middle = Accumulator(*fold(first))
    assert fold(second, start=middle) == fold(first + second)


@pytest.mark.parametrize(
    "call",
    [
        lambda: Accumulator().add_batch(b"\x00" * 32, 0),
        lambda: Accumulator().add_batch(b"\x00" * 32, 2**32),
        lambda: Accumulator().add_revision(b"\x00" * 31),
        lambda: Accumulator(bytes(23), 0),
        lambda: Accumulator(bytes(24), -1),
        lambda: Accumulator(bytes(24), 2**64 - 1).add_revision(bytes(32)),
        lambda: Accumulator().apply("leaf"),  # type: ignore[arg-type]
    ],
)
def test_refuses_malformed_steps(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidInput):
        call()
