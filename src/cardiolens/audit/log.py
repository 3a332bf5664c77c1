"""Append-only audit log in SQLite with a SHA-256 hash chain.

Each entry records who did what, with which software and model versions, on which
inputs (SHA-256 of the files) and producing which outputs, and whether a result was
overridden: the record keeping asked of high-risk AI systems by the EU AI Act
(Regulation (EU) 2024/1689, art. 12) and the IAEA's guidance on AI in nuclear
medicine. Every entry stores the SHA-256 of the previous entry (``prev_hash``) and
its own hash over its canonical JSON (``entry_hash``), as in a hash chain (Haber &
Stornetta, J Cryptology 1991), so :func:`verify` finds an edited byte, a deleted
entry or two swapped entries and names the first entry affected.

SQLite triggers refuse ``UPDATE`` and ``DELETE`` on the table; the chain makes
tampering that bypasses them (editing the file) evident. Deleting the newest
entries is detected through the head recorded in the ``chain_head`` table; keep the
head hash printed by ``cardiolens audit verify`` elsewhere to detect truncation by
someone who also rewrites that table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardiolens.core.errors import AuditError

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "VerificationResult",
    "canonical_json",
    "sha256_file",
    "verify",
]

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry."""

_JSON_FIELDS = ("model_versions", "input_hashes", "output_hashes", "overrides", "details")
_COLUMNS = (
    "seq",
    "entry_id",
    "timestamp_utc",
    "action",
    "user",
    "software_version",
    *_JSON_FIELDS,
    "prev_hash",
    "entry_hash",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    seq INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    timestamp_utc TEXT NOT NULL,
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    software_version TEXT NOT NULL,
    model_versions TEXT NOT NULL,
    input_hashes TEXT NOT NULL,
    output_hashes TEXT NOT NULL,
    overrides TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace and UTF-8 text: the form that is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_bytes):
                digest.update(chunk)
    except OSError as error:
        raise AuditError(f"cannot read file to hash it: {error.strerror}", path=path) from None
    return digest.hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One audit record.

    ``entry_hash`` is the SHA-256 of the canonical JSON of every other field
    (``prev_hash`` included), see :meth:`compute_hash`.
    """

    seq: int
    entry_id: str
    timestamp_utc: str
    action: str
    user: str
    software_version: str
    model_versions: dict[str, Any] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)
    output_hashes: dict[str, str] = field(default_factory=dict)
    overrides: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    entry_hash: str = ""

    def compute_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of all fields except ``entry_hash``."""
        body = asdict(self)
        body.pop("entry_hash")
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify`.

    ``bad_seq`` and ``bad_entry_id`` name the first entry whose hash or link does not
    verify (``None`` when the log is intact); ``message`` says what is wrong.
    """

    ok: bool
    n_entries: int
    head_hash: str
    message: str
    bad_seq: int | None = None
    bad_entry_id: str | None = None


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the log; the tables and triggers are created unless read-only."""
    try:
        if read_only:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        else:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
            connection.executescript(_SCHEMA)
    except sqlite3.DatabaseError as error:
        raise AuditError(f"not a readable SQLite audit log ({error})", path=path) from None
    return connection


def _row_to_entry(row: Sequence[Any], path: Path) -> AuditEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    try:
        for name in _JSON_FIELDS:
            values[name] = json.loads(values[name])
    except (TypeError, json.JSONDecodeError):
        raise AuditError(
            f"entry seq={values['seq']} (id {values['entry_id']}) holds a field that is not "
            "valid JSON: the log was edited",
            path=path,
        ) from None
    return AuditEntry(**values)


class AuditLog:
    """The append-only audit log stored in the SQLite file ``path`` (created if absent).

    Examples
    --------
    >>> log = AuditLog(tmp_path / "audit.sqlite")  # doctest: +SKIP
    >>> entry = log.append("analyze", user="dr.x", software_version="0.1.0")  # doctest: +SKIP
    >>> verify(log.path).ok  # doctest: +SKIP
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.exists():
            raise AuditError("the folder of the audit log does not exist", path=self.path)
        _connect(self.path).close()

    def append(
        self,
        action: str,
        user: str,
        software_version: str,
        model_versions: Mapping[str, Any] | None = None,
        input_hashes: Mapping[str, str] | None = None,
        output_hashes: Mapping[str, str] | None = None,
        overrides: Sequence[Any] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry chained to the current head and return it.

        Parameters
        ----------
        action
            What was done (``"analyze"``, ``"amend"``...).
        user
            Who did it (login or name).
        software_version
            cardiolens version.
        model_versions
            ``{model name: version or hash}`` of every model used.
        input_hashes, output_hashes
            ``{file name: SHA-256}`` of the files read and written.
        overrides
            Results the user rejected or changed (free text or dicts).
        details
            Any further JSON-ready facts (parameters, report path).
        """
        if not action.strip() or not user.strip():
            raise AuditError("an audit entry needs a non-empty action and user", path=self.path)
        connection = _connect(self.path)
        try:
            connection.execute("BEGIN IMMEDIATE")
            last = connection.execute(
                "SELECT seq, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
            draft = AuditEntry(
                seq=seq,
                entry_id=str(uuid.uuid4()),
                timestamp_utc=datetime.now(UTC).isoformat(timespec="microseconds"),
                action=action,
                user=user,
                software_version=software_version,
                model_versions=dict(model_versions or {}),
                input_hashes=dict(input_hashes or {}),
                output_hashes=dict(output_hashes or {}),
                overrides=list(overrides or []),
                details=dict(details or {}),
                prev_hash=prev_hash,
            )
            # Round-trip through JSON so the stored text and the hashed body agree exactly.
            draft = AuditEntry(**json.loads(canonical_json(draft.to_json())))
            entry = AuditEntry(**{**draft.to_json(), "entry_hash": draft.compute_hash()})
            row = [getattr(entry, name) for name in _COLUMNS]
            for index, name in enumerate(_COLUMNS):
                if name in _JSON_FIELDS:
                    row[index] = canonical_json(row[index])
            connection.execute(
                f"INSERT INTO audit_entries ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                row,
            )
            connection.execute(
                "INSERT OR REPLACE INTO chain_head (id, seq, entry_hash) VALUES (1, ?, ?)",
                (entry.seq, entry.entry_hash),
            )
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise AuditError(f"cannot append to the audit log ({error})", path=self.path) from None
        finally:
            connection.close()
        logger.info("audit entry %d (%s) appended to %s", entry.seq, entry.action, self.path)
        return entry

    def entries(self) -> list[AuditEntry]:
        """All entries in sequence order."""
        connection = _connect(self.path)
        try:
            rows = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM audit_entries ORDER BY seq"
            ).fetchall()
        finally:
            connection.close()
        return [_row_to_entry(row, self.path) for row in rows]


def verify(db: str | Path) -> VerificationResult:
    """Check the hash chain of the audit log ``db``.

    Walks the entries in sequence order and checks, for each, that its sequence
    number follows the previous one, that ``prev_hash`` equals the previous entry's
    hash and that ``entry_hash`` equals the hash recomputed from its fields; finally
    that the newest entry is the recorded chain head.

    Returns
    -------
    VerificationResult
        ``ok`` is False on the first failure, with the entry named.
    """
    path = Path(db)
    if not path.is_file():
        raise AuditError("audit log not found", path=path)
    connection = _connect(path, read_only=True)
    try:
        rows = connection.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM audit_entries ORDER BY seq"
        ).fetchall()
        head = connection.execute("SELECT seq, entry_hash FROM chain_head WHERE id = 1").fetchone()
    except sqlite3.DatabaseError as error:
        raise AuditError(f"cannot read the audit log ({error})", path=path) from None
    finally:
        connection.close()

    prev_hash, expected_seq = GENESIS_HASH, 1

    def failure(entry_seq: int, entry_id: str | None, problem: str) -> VerificationResult:
        return VerificationResult(
            ok=False,
            n_entries=len(rows),
            head_hash=prev_hash,
            message=f"entry seq={entry_seq} (id {entry_id}): {problem}",
            bad_seq=entry_seq,
            bad_entry_id=entry_id,
        )

    for row in rows:
        try:
            entry = _row_to_entry(row, path)
        except AuditError:
            return failure(row[0], row[1], "a stored field is not valid JSON (edited)")
        if entry.seq != expected_seq:
            return failure(
                entry.seq,
                entry.entry_id,
                f"expected seq={expected_seq} here: entries before it were deleted or reordered",
            )
        if entry.prev_hash != prev_hash:
            return failure(
                entry.seq,
                entry.entry_id,
                "prev_hash does not match the previous entry: an entry was deleted, "
                "inserted or swapped",
            )
        if entry.compute_hash() != entry.entry_hash:
            return failure(entry.seq, entry.entry_id, "content does not match its hash (edited)")
        prev_hash, expected_seq = entry.entry_hash, entry.seq + 1

    n_last = expected_seq - 1
    if head is not None and (head[0] != n_last or head[1] != prev_hash):
        return failure(
            head[0],
            None,
            f"the chain head records seq={head[0]} but the log ends at seq={n_last}: "
            "the newest entries were deleted or the head edited",
        )
    if head is None and rows:
        return failure(n_last, None, "the chain head record is missing")
    return VerificationResult(
        ok=True,
        n_entries=len(rows),
        head_hash=prev_hash,
        message=f"{len(rows)} entries verified; head {prev_hash}",
    )
