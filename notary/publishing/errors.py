"""The refusals of the publishing path, whatever door a file came through.

Each is an `InvalidInput`: the CLI prints it and exits non-zero, the API maps it to one status
(`api.core.errors`: 413, 415, 422).
"""

from __future__ import annotations

from typing import Any

from notary.errors import InvalidInput


class PayloadTooLarge(InvalidInput):
    """The file is over the configured upload limit."""


class UnsupportedMedia(InvalidInput):
    """The file's type (from its bytes) is not one this kind of record takes."""


class PiiFound(InvalidInput):
    """The document contains personal data and neither masking nor an override was asked."""

    def __init__(
        self,
        findings: list[dict[str, Any]],
        detail: str = "personal data found; pass mask=true or pii_override_reason",
    ) -> None:
        super().__init__(detail)
        self.findings = findings
