"""The client's metadata of a release: parsed strictly, completed with what the service
knows (office name, tier, SM3) and checked in full before any file is stored."""

from __future__ import annotations

import json
from typing import Any

from notary.db.types import AccessTier
from notary.errors import InvalidInput
from notary.formats.fields import check_free_text
from notary.formats.metadata import Metadata

DOCUMENT_NUMBER = "document_number"
"""The `extra` member holding a release's document number (文号): hashed and anchored with
the rest of the metadata, served and searchable (docs/formats.md)."""


def document_number_fragment(number: str) -> str:
    """The exact text `"document_number":"…"` that a stored (RFC 8785 canonical) metadata
    document holds when its document number is `number`. Every quote inside a value is
    escaped in canonical JSON, so the fragment can only match the member itself."""
    import rfc8785

    return json.dumps(DOCUMENT_NUMBER) + ":" + rfc8785.dumps(number).decode()


CLIENT_METADATA_KEYS = frozenset(
    {"title", "category", "publication_date", "reviewer", "language", "extra", "access_tier"}
)


def _check_strings(data: dict[str, Any]) -> None:
    """Refuse lone surrogates (they cannot even be encoded) and any character outside the
    free-text rule (`notary.formats.fields`: bidi controls, zero-width and other invisible
    characters…) in every key and string of the parsed metadata, naming the member, before
    anything is hashed or stored. `extra` values may span lines; the other members may not.
    """
    stack: list[tuple[str, Any, bool]] = [(k, v, k == "extra") for k, v in data.items()]
    while stack:
        name, item, multiline = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                _check_string(f"{name} key", key, multiline=False)
                stack.append((f"{name}.{key}", value, multiline))
        elif isinstance(item, list):
            stack.extend((f"{name}[{i}]", v, multiline) for i, v in enumerate(item))
        elif isinstance(item, str):
            _check_string(name, item, multiline=multiline)


def _check_string(name: str, value: object, *, multiline: bool) -> None:
    if not isinstance(value, str):
        return  # a non-string key or value: Metadata refuses it by type
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInput(f"metadata {name} contains a lone surrogate (not valid Unicode)")
    check_free_text(value, f"metadata {name}", multiline=multiline)


def parse_metadata_json(text: str | None) -> dict[str, Any] | None:
    """The client's metadata form field, parsed strictly into a JSON object."""
    if text is None or text == "":
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("metadata must be a JSON object")
    unknown = set(data) - CLIENT_METADATA_KEYS
    if unknown:
        raise InvalidInput(f"unknown metadata member(s): {', '.join(sorted(unknown))}")
    _check_strings(data)
    return data


def precheck_metadata(client: dict[str, Any], tier: AccessTier) -> None:
    """Validate new-record metadata fully before the file is stored (placeholders stand in
    for the office name and SM3), so a refused request leaves no blob behind."""
    doc = {k: v for k, v in client.items() if k != "access_tier"}
    doc.setdefault("language", "zh-CN")
    doc.update(office="office", access_tier=tier.value, sm3="0" * 64)
    Metadata.from_dict(doc)


def build_metadata(
    client: dict[str, Any], *, office_name: str, tier: AccessTier, sm3: str
) -> Metadata:
    """Full metadata: the client's fields plus what the service knows (office, tier, sm3)."""
    doc = {k: v for k, v in client.items() if k != "access_tier"}
    doc.setdefault("language", "zh-CN")
    doc.update(office=office_name, access_tier=tier.value, sm3=sm3)
    return Metadata.from_dict(doc)


def tier_of(client: dict[str, Any] | None, form_tier: str | None) -> AccessTier:
    """Access tier from the form field, else the metadata, else public."""
    value = form_tier or (client or {}).get("access_tier") or "public"
    try:
        return AccessTier(value)
    except ValueError:
        raise InvalidInput(
            f"access tier must be public, restricted or internal: {value!r}"
        ) from None
