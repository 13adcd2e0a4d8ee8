"""Verify URLs and stamped copies of anchored revisions (docs/qr-payload.md).

One place builds the URL a QR code carries, for the API, the CLI and `make run` alike: the
verify host from configuration, the chain and registry of the anchor, the record, version and
leaf of the revision, and the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from notary.formats.qr_payload import QrPayload, verify_url


@dataclass(frozen=True, slots=True)
class VerifyTarget:
    """Where verify URLs point: the verify host and the chain and registry of the anchors."""

    scheme: Literal["https", "http"]
    host: str
    chain_id: int
    registry: str

    def url(
        self,
        *,
        record_id: str,
        version: int,
        leaf: str,
        page: int = 1,
        pages: int = 1,
        salt: bytes | None = None,
    ) -> str:
        """The verify URL of one page of an anchored revision (ids and leaf as hex)."""
        payload = QrPayload.for_page(
            chain_id=self.chain_id,
            registry=self.registry,
            record_id=bytes.fromhex(record_id.removeprefix("0x")),
            version=version,
            leaf=bytes.fromhex(leaf.removeprefix("0x")),
            page=page,
            pages=pages,
            salt=salt,
        )
        return verify_url(self.host, payload, scheme=self.scheme)

    def stamp(
        self, original: bytes, *, record_id: str, version: int, leaf: str, salt: bytes | None = None
    ) -> bytes:
        """The stamped copy of an anchored PDF: page i of n carries its own verify URL."""
        from notary.pdf.stamp import stamp_pdf

        def url(page: int, pages: int) -> str:
            return self.url(
                record_id=record_id, version=version, leaf=leaf, page=page, pages=pages, salt=salt
            )

        return stamp_pdf(original, make_payload=url)
