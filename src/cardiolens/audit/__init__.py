"""Tamper-evident, append-only audit log (hash chain)."""
