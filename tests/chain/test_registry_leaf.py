"""Python and Solidity agree on the leaf (property test against the contract's computeLeaf)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.registry_revisions import ZERO, leaf_of

from notary.chain.client import RegistryClient
from notary.formats.revision import Kind, Revision

# ---------------------------------------------------------------------------------------------
# Python and Solidity agree on the leaf
# ---------------------------------------------------------------------------------------------

_bytes32 = st.binary(min_size=32, max_size=32)


@st.composite
def _revisions(draw: st.DrawFn) -> Revision:
    kind = draw(st.sampled_from(Kind))
    version = draw(st.integers(1, 2**32 - 1))
    return Revision(
        record_id=draw(_bytes32),
        version=version,
        kind=kind,
        valid_until=0 if kind is Kind.DISCLOSURE else draw(st.integers(0, 2**64 - 1)),
        content_hash=draw(_bytes32),
        metadata_hash=draw(_bytes32),
        prev_leaf=ZERO if version == 1 else draw(_bytes32.filter(lambda b: b != ZERO)),
    )


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rev=_revisions())
def test_python_leaf_equals_the_contracts_compute_leaf(
    registry_client: RegistryClient, rev: Revision
) -> None:
    assert registry_client.compute_leaf(rev) == leaf_of(registry_client, rev)
