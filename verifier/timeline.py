"""The leaf of every version recomputed from the chain's events, and the record's timeline.

docs/formats.md, "Leaf": each version's leaf commits to the one before it, so the events
from this version to the head must form one chain of leaves ending in the head's prefix.
"""

from __future__ import annotations

from verifier.result import RevisionInfo, Verdict
from verifier.run import LEAF_PREFIX_ON_CHAIN, Run, event_time


def check_leaf_prefix(run: Run) -> None:
    """Recompute every leaf from the events; it must match the head and the code."""
    from notary.formats.revision import Kind, Revision, compute_leaf  # pure module

    entry, head, event = run.entry, run.head, run.event
    assert entry is not None and head is not None and event is not None
    prev = bytes(32)
    timeline = []
    reg = run.registry
    assert reg is not None
    for ev in sorted(run.events, key=lambda e: e.version):
        link = ev.prev_leaf_prefix
        if link is not None:
            # The event names the leaf it follows; a version read after another must follow
            # the leaf just recomputed, or the events do not form one history.
            if ev.version - 1 in run.leaves and run.leaves[ev.version - 1][:23] != link:
                raise run.fail(
                    "check_leaf_prefix",
                    Verdict.TAMPERED,
                    f"version {ev.version}'s event does not follow version {ev.version - 1}",
                )
            prev = link + bytes(32 - len(link))
        elif ev.version != 1 and ev.version - 1 not in run.leaves:
            raise run.fail(
                "check_leaf_prefix", Verdict.UNKNOWN, "the record's anchor events are incomplete"
            )
        rev = Revision(
            record_id=ev.record_id,
            version=ev.version,
            kind=Kind(ev.kind),
            valid_until=ev.valid_until,
            content_hash=ev.content_hash,
            metadata_hash=ev.metadata_hash,
            prev_leaf=prev,
        )
        prev = compute_leaf(rev, chain_id=entry.chain_id, registry=entry.registry)
        run.leaves[ev.version] = prev
        timeline.append(
            RevisionInfo(
                version=ev.version,
                content_hash="0x" + ev.content_hash.hex(),
                metadata_hash="0x" + ev.metadata_hash.hex(),
                signer=ev.signer,
                block=ev.block,
                anchored_at=event_time(reg, ev),
                leaf="0x" + prev.hex(),
            )
        )
    run.facts["timeline"] = tuple(timeline)
    if run.leaves[head.version][:LEAF_PREFIX_ON_CHAIN] != head.leaf_prefix[:LEAF_PREFIX_ON_CHAIN]:
        raise run.fail(
            "check_leaf_prefix",
            Verdict.TAMPERED,
            "the leaf recomputed from the chain's events disagrees with the record's head",
        )
    leaf = run.leaves[event.version]
    p = run.payload
    if p is None:
        run.ok("check_leaf_prefix", f"leaf 0x{leaf.hex()[:16]}… matches the head")
        return
    if not p.leaf_prefix or leaf[: len(p.leaf_prefix)] != p.leaf_prefix:
        raise run.fail(
            "check_leaf_prefix",
            Verdict.TAMPERED,
            "the code does not match the anchored revision (leaf prefix differs)",
        )
    run.ok("check_leaf_prefix", f"code matches leaf 0x{leaf.hex()[:16]}…")
