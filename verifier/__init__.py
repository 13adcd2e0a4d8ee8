"""Independent verification of disclosures and certificates against the chain.

Needs only an RPC URL and a trust list; never the API or the database. Public API:

    from verifier import verify_file, verify_image, verify_payload, load_trust, Verdict
"""

from verifier.result import EXIT_CODES, Step, StepStatus, Verdict, VerificationResult
from verifier.trust import TrustEntry, TrustList, TrustListError, load_trust, parse_trust
from verifier.verify import (
    verify_file,
    verify_image,
    verify_image_codes,
    verify_image_each,
    verify_payload,
)

__all__ = [
    "EXIT_CODES",
    "Step",
    "StepStatus",
    "TrustEntry",
    "TrustList",
    "TrustListError",
    "Verdict",
    "VerificationResult",
    "load_trust",
    "parse_trust",
    "verify_file",
    "verify_image",
    "verify_image_codes",
    "verify_image_each",
    "verify_payload",
]
