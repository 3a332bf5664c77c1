"""Tamper-evident, append-only audit log (hash chain)."""

from cardiolens.audit.log import (
    GENESIS_HASH,
    AuditEntry,
    AuditLog,
    VerificationResult,
    canonical_json,
    sha256_file,
    verify,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "VerificationResult",
    "canonical_json",
    "sha256_file",
    "verify",
]
