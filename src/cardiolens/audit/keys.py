"""The audit key: an HMAC secret kept outside the audit database.

Looked up in this order: an explicit key, ``CARDIOLENS_AUDIT_KEY`` (the key as text),
``CARDIOLENS_AUDIT_KEY_FILE`` (a file holding it), ``$XDG_CONFIG_HOME/cardiolens/audit.key``
(default ``~/.config/cardiolens/audit.key``, made by ``cardiolens audit keygen``).
Whoever can write the database but not read the key cannot forge an entry
(HMAC-SHA256, RFC 2104 / FIPS 198-1). Keep the key where the log's writers run,
readable by the service account only, never beside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cardiolens.core.errors import AuditError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "default_key_file",
    "find_key",
    "key_id",
    "write_key_file",
]

KEY_ENV = "CARDIOLENS_AUDIT_KEY"
KEY_FILE_ENV = "CARDIOLENS_AUDIT_KEY_FILE"
MIN_KEY_BYTES = 16
_KEY_ID_LABEL = b"cardiolens audit key id"


def default_key_file() -> Path:
    """``$XDG_CONFIG_HOME/cardiolens/audit.key`` (``~/.config`` when unset)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "cardiolens" / "audit.key"


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise AuditError(f"the audit key from {source} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def find_key(key: str | bytes | None = None, *, required: bool) -> bytes | None:
    """The audit key from ``key`` or the places listed in the module docstring.

    Raises
    ------
    AuditError
        When ``required`` and no key is found, saying where to put one; or when a key
        is too short or its file unreadable.
    """
    if key is not None:
        return _checked(key.encode() if isinstance(key, str) else bytes(key), "the caller")
    if os.environ.get(KEY_ENV):
        return _checked(os.environ[KEY_ENV].encode(), KEY_ENV)
    named = os.environ.get(KEY_FILE_ENV)
    path = Path(named) if named else default_key_file()
    if path.is_file():
        try:
            return _checked(path.read_bytes().strip(), str(path))
        except OSError as error:
            raise AuditError(f"cannot read the audit key ({error.strerror})", path=path) from None
    if named:
        raise AuditError(f"audit key file not found (named by {KEY_FILE_ENV})", path=path)
    if required:
        raise AuditError(
            f"no audit key: the log is keyed with an HMAC secret kept outside the database; "
            f"run 'cardiolens audit keygen' (writes {path}), or set {KEY_ENV} or {KEY_FILE_ENV}"
        )
    return None


def key_id(key: bytes) -> str:
    """A 16-hex-digit fingerprint of ``key`` (an HMAC of a fixed label: reveals nothing of it)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def write_key_file(path: str | Path | None = None) -> Path:
    """Write a new random 256-bit key (hex) to ``path`` (default :func:`default_key_file`),
    readable by its owner only; an existing key file is never overwritten."""
    path = Path(path) if path is not None else default_key_file()
    if path.exists():
        raise AuditError("an audit key file exists already; it is never overwritten", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise AuditError(
            f"cannot create the audit key file ({error.strerror})", path=path
        ) from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path
