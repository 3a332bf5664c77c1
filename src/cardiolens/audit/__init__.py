"""Tamper-evident, append-only audit log (HMAC-keyed hash chain, head kept outside)."""

from cardiolens.audit.keys import find_key, key_id, write_key_file
from cardiolens.audit.log import (
    GENESIS_HASH,
    LEGACY_SCHEME,
    AuditEntry,
    AuditLog,
    VerificationResult,
    canonical_json,
    head,
    parse_head,
    sha256_file,
    verify,
)

__all__ = [
    "GENESIS_HASH",
    "LEGACY_SCHEME",
    "AuditEntry",
    "AuditLog",
    "VerificationResult",
    "canonical_json",
    "find_key",
    "head",
    "key_id",
    "parse_head",
    "sha256_file",
    "verify",
    "write_key_file",
]
