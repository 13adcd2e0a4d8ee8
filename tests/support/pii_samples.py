"""Independent generators of personal data for the PII guard's tests.

Valid ID and card numbers are computed here with the published algorithms (GB 11643-1999
MOD 11-2, Luhn), independently of `notary.pii`, and checked against the standard's own
sample numbers, so a wrong implementation cannot agree with itself.
"""

from __future__ import annotations

import random

from notary.pii import Finding

# ---------------------------------------------------------------- generators (independent)

GB11643_SAMPLES = ("11010519491231002X", "440524188001010014")  # from GB 11643-1999 itself
REGIONS = ("110105", "440524", "310101", "320106", "510104", "650102", "810000", "830000")


def check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643-1999 states it: sum(a_i * 2^(i-1) mod 11)."""
    total = sum(int(d) * (2 ** (18 - i) % 11) for i, d in enumerate(body17, start=1))
    return "10X98765432"[total % 11]


def make_id(region: str = "110105", born: str = "19900307", seq: str = "123") -> str:
    body = region + born + seq
    return body + check_char(body)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A Luhn-valid number of `length` digits that starts with `prefix`."""
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for last in "0123456789":
        digits = [int(c) for c in body + last]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(reversed(digits)))  # fmt: skip
        if total % 10 == 0:
            return body + last
    raise AssertionError("unreachable")


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind.value for f in findings]
