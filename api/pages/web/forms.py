"""Reading form and query fields for the site's pages: bounded, typed, with clear refusals.

A field that does not fit is an `InvalidInput` naming it (the page shows it with a 400);
nothing is written before every field has been read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from notary.errors import InvalidInput


def text(
    form: Mapping[str, Any], name: str, *, max_len: int = 500, required: bool = False
) -> str | None:
    """A text field, trimmed; None when empty (refused when `required`)."""
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters")
    if required and not value:
        raise InvalidInput(f"{name} is required")
    return value or None


def date(form: Mapping[str, Any], name: str) -> dt.date | None:
    """A `YYYY-MM-DD` field, or None when empty."""
    value = text(form, name, max_len=10)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def page_number(form: Mapping[str, Any], name: str = "page", *, last: int = 10_000) -> int:
    """A 1-based page number (1 when empty)."""
    value = text(form, name, max_len=6)
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= last:
        raise InvalidInput(f"{name} must be a number from 1 to {last}")
    return int(value)


def choice(form: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of `allowed` (the default when empty)."""
    value = text(form, name, max_len=40) or default
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}")
    return value


def parsed(model: Any, **fields: Any) -> Any:
    """A request body built as the API would parse it; its refusal as `InvalidInput`."""
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidInput(f"{where}: {first['msg']}") from None
