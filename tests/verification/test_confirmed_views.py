"""With confirmations in the trust entry, the registry's views are read at
`latest - confirmations`, like its logs: a head that ran ahead of the confirmed blocks is not
acted on, and a reorg of the unconfirmed blocks changes no verdict."""

from __future__ import annotations

import dataclasses

from support.besu_proxy import BesuProxy

from notary.chain.local import rpc_call
from notary.formats.qr_payload import QrPayload, verify_url
from verifier.chainsource import ChainRegistry
from verifier.result import Verdict
from verifier.trust import TrustList
from verifier.verify import verify_payload

CONFIRMATIONS = 3


def test_views_wait_for_confirmations_and_survive_a_reorg(verifier_registry, besu_node: BesuProxy):
    reg = verifier_registry
    rid, _, leaf = reg.anchor(b"v1")
    reg.w3.provider.make_request("anvil_mine", [hex(CONFIRMATIONS)])
    plain = TrustList.single(
        chain_id=reg.chain_id, registry=reg.address, name="t", rpc_url=besu_node.url
    )
    trust = TrustList.of([dataclasses.replace(plain.entries[0], confirmations=CONFIRMATIONS)])
    code = verify_url(
        "verify.example.gov",
        QrPayload.for_page(
            chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=1, leaf=leaf
        ),
    )

    def verdict() -> Verdict:
        source = ChainRegistry(trust.entries[0])  # fresh: nothing cached from before
        return verify_payload(code, trust, connect=lambda _e: source).verdict

    assert verdict() is Verdict.AUTHENTIC_CURRENT
    snap = rpc_call(reg.chain.url, "evm_snapshot")
    reg.anchor(b"v2", record_id=rid)  # the head at "latest" is v2, not confirmed yet
    assert verdict() is Verdict.AUTHENTIC_CURRENT, "an unconfirmed v2 is not acted on"
    rpc_call(reg.chain.url, "evm_revert", [snap])  # v2 reorged away
    reg.versions[rid], reg.leaves[rid] = 1, leaf  # the helper's own count goes back too
    assert verdict() is Verdict.AUTHENTIC_CURRENT
    reg.anchor(b"v2 again", record_id=rid)
    reg.w3.provider.make_request("anvil_mine", [hex(CONFIRMATIONS)])
    assert verdict() is Verdict.SUPERSEDED, "confirmed: the head has moved on"
