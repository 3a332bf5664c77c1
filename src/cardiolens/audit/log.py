"""Append-only audit log in SQLite with an HMAC-keyed hash chain anchored outside the file.

Each entry records who did what, with which software and model versions, on which
inputs (SHA-256 of the files) and producing which outputs, and whether a result was
overridden: the record keeping asked of high-risk AI systems by the EU AI Act
(Regulation (EU) 2024/1689, art. 12) and the IAEA's guidance on AI in nuclear
medicine. Every entry stores the hash of the previous entry (``prev_hash``) and its
own hash over its canonical JSON (``entry_hash``), as in a hash chain (Haber &
Stornetta, J Cryptology 1991), so :func:`verify` finds an edited byte, a deleted
entry or two swapped entries and names the first entry affected.

The entry hash is an HMAC-SHA256 (RFC 2104) under a key kept outside the database
(:mod:`cardiolens.audit.keys`): someone who can write the file but not read the key
cannot recompute the chain after an edit. What the file alone cannot show is that
its newest entries were cut off together with the head record; for that, keep the
head (``cardiolens audit head DB`` prints ``SEQ:HASH``; every report carries the one
after its own entry) and pass it to ``verify --head``: a log that no longer holds
that entry with that hash was truncated or rewritten.

Entries written before the key existed (hash scheme ``sha256``, plain SHA-256) are
still verified as a plain chain and counted as unkeyed: they are protected against
accidental damage, not against someone who rewrites them (a ``--head`` kept from
after them still anchors them). New entries are keyed and chained onto them; an
unkeyed entry after a keyed one is a rewrite.

Writers share one database safely: WAL journal, a 30 s busy timeout and retried
``BEGIN IMMEDIATE`` transactions, so concurrent appends are serialised, none lost.

What the log holds, and why: user name (accountability), action, software and model
versions, SHA-256 of input and output files (which data produced which result, without
the data), the report id, the source and output folder paths, the analyses run and the
items that failed, overrides and amendment text (they change the clinical result). It
stores no patient name, ID, birth date or image; the paths are the caller's folder
names, so de-identify or name folders by study, not by patient, where that matters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardiolens.audit.keys import find_key, key_id
from cardiolens.core.errors import AuditError

__all__ = [
    "GENESIS_HASH",
    "LEGACY_SCHEME",
    "AuditEntry",
    "AuditLog",
    "VerificationResult",
    "canonical_json",
    "head",
    "parse_head",
    "sha256_file",
    "verify",
]

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry."""
LEGACY_SCHEME = "sha256"
"""Hash scheme of entries written before the log was keyed (plain SHA-256)."""
_KEYED_PREFIX = "hmac-sha256:"
_APPEND_ATTEMPTS = 50

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
    "hash_scheme",
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
    entry_hash TEXT NOT NULL,
    hash_scheme TEXT NOT NULL DEFAULT 'sha256'
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

    ``entry_hash`` is the HMAC-SHA256, under the audit key, of the canonical JSON of
    every other field (``prev_hash`` and ``hash_scheme`` included), see
    :meth:`compute_hash`; ``hash_scheme`` is ``hmac-sha256:<key id>``, or ``sha256``
    for an unkeyed entry of an older log (plain SHA-256 without ``hash_scheme``).
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
    hash_scheme: str = LEGACY_SCHEME

    @property
    def keyed(self) -> bool:
        return self.hash_scheme.startswith(_KEYED_PREFIX)

    @property
    def key_id(self) -> str | None:
        """Fingerprint of the key that wrote a keyed entry."""
        return self.hash_scheme.removeprefix(_KEYED_PREFIX) if self.keyed else None

    @property
    def head(self) -> str:
        """``SEQ:HASH``: what to keep elsewhere and give to ``verify --head``."""
        return f"{self.seq}:{self.entry_hash}"

    def compute_hash(self, key: bytes | None = None) -> str:
        """The entry hash (hex): HMAC-SHA256 under ``key`` for a keyed entry, SHA-256 of
        the fields without ``hash_scheme`` for a legacy one."""
        body = asdict(self)
        body.pop("entry_hash")
        if not self.keyed:
            body.pop("hash_scheme")
            return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
        if key is None:
            raise AuditError("a keyed entry's hash needs the audit key")
        return hmac.new(key, canonical_json(body).encode("utf-8"), hashlib.sha256).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify`.

    ``bad_seq`` and ``bad_entry_id`` name the first entry whose hash or link does not
    verify (``None`` when the log is intact); ``message`` says what is wrong, or what
    was proven. ``n_authenticated`` keyed entries had their HMAC checked with the key,
    ``n_unkeyed`` legacy entries their plain SHA-256; ``head_checked`` says whether a
    head kept outside the file was matched.
    """

    ok: bool
    n_entries: int
    head_hash: str
    message: str
    bad_seq: int | None = None
    bad_entry_id: str | None = None
    n_authenticated: int = 0
    n_unkeyed: int = 0
    head_checked: bool = False


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the log; writers get the tables, triggers, WAL and the hash_scheme
    column (added to a log written before it existed)."""
    try:
        if read_only:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0
            )
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        else:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
            connection.execute("PRAGMA busy_timeout = 30000")
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
            if "hash_scheme" not in _table_columns(connection):
                connection.execute(
                    "ALTER TABLE audit_entries ADD COLUMN hash_scheme TEXT NOT NULL DEFAULT 'sha256'"
                )
    except sqlite3.DatabaseError as error:
        raise AuditError(f"not a readable SQLite audit log ({error})", path=path) from None
    return connection


def _table_columns(connection: sqlite3.Connection) -> set[str]:
    return {row[1] for row in connection.execute("PRAGMA table_info(audit_entries)")}


def _select_entries(connection: sqlite3.Connection) -> list[Sequence[Any]]:
    """Every row in sequence order (``hash_scheme`` read as legacy where the column is absent)."""
    names = [
        c if c != "hash_scheme" or "hash_scheme" in _table_columns(connection) else "'sha256'"
        for c in _COLUMNS
    ]
    return connection.execute(
        f"SELECT {', '.join(names)} FROM audit_entries ORDER BY seq"
    ).fetchall()


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


def _locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


class AuditLog:
    """The append-only audit log stored in the SQLite file ``path`` (created if absent).

    Parameters
    ----------
    path
        The SQLite file.
    key
        The HMAC key; default found by :func:`cardiolens.audit.keys.find_key`.
        Appending without a key raises :class:`AuditError`; reading entries does not
        need one.

    Examples
    --------
    >>> log = AuditLog(tmp_path / "audit.sqlite")  # doctest: +SKIP
    >>> entry = log.append("analyze", user="dr.x", software_version="0.1.0")  # doctest: +SKIP
    >>> verify(log.path, head=entry.head).ok  # doctest: +SKIP
    True
    """

    def __init__(self, path: str | Path, key: str | bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
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

        Raises
        ------
        AuditError
            No audit key, an empty action or user, or a database that cannot be written
            (after retrying a locked one for about a minute).
        """
        if not action.strip() or not user.strip():
            raise AuditError("an audit entry needs a non-empty action and user", path=self.path)
        key = find_key(self._key, required=True)
        fields = {
            "action": action,
            "user": user,
            "software_version": software_version,
            "model_versions": dict(model_versions or {}),
            "input_hashes": dict(input_hashes or {}),
            "output_hashes": dict(output_hashes or {}),
            "overrides": list(overrides or []),
            "details": dict(details or {}),
            "hash_scheme": _KEYED_PREFIX + key_id(key),
        }
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                entry = self._append_once(fields, key)
                break
            except sqlite3.OperationalError as error:
                if not _locked(error) or attempt == _APPEND_ATTEMPTS - 1:
                    raise AuditError(
                        f"cannot append to the audit log ({error})", path=self.path
                    ) from None
                time.sleep(random.uniform(0.01, 0.05) * (1 + attempt))
            except sqlite3.DatabaseError as error:
                raise AuditError(
                    f"cannot append to the audit log ({error})", path=self.path
                ) from None
        logger.info("audit entry %d (%s) appended to %s", entry.seq, entry.action, self.path)
        return entry

    def _append_once(self, fields: Mapping[str, Any], key: bytes) -> AuditEntry:
        """One ``BEGIN IMMEDIATE`` transaction appending ``fields`` after the current head."""
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
                prev_hash=prev_hash,
                **fields,
            )
            # Round-trip through JSON so the stored text and the hashed body agree exactly.
            draft = AuditEntry(**json.loads(canonical_json(draft.to_json())))
            entry = AuditEntry(**{**draft.to_json(), "entry_hash": draft.compute_hash(key)})
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
            return entry
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()

    def entries(self) -> list[AuditEntry]:
        """All entries in sequence order."""
        connection = _connect(self.path, read_only=True)
        try:
            rows = _select_entries(connection)
        finally:
            connection.close()
        return [_row_to_entry(row, self.path) for row in rows]


def _read_log(path: Path) -> tuple[list[Sequence[Any]], Sequence[Any] | None]:
    if not path.is_file():
        raise AuditError("audit log not found", path=path)
    connection = _connect(path, read_only=True)
    try:
        rows = _select_entries(connection)
        recorded = connection.execute(
            "SELECT seq, entry_hash FROM chain_head WHERE id = 1"
        ).fetchone()
    except sqlite3.DatabaseError as error:
        raise AuditError(f"cannot read the audit log ({error})", path=path) from None
    finally:
        connection.close()
    return rows, recorded


def parse_head(text: str) -> tuple[int, str]:
    """``"SEQ:HASH"`` as ``(seq, hash)``; :class:`AuditError` when malformed."""
    seq, sep, digest = str(text).strip().partition(":")
    if (
        not sep
        or not seq.isdigit()
        or int(seq) < 1
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise AuditError(
            f"--head expects SEQ:HASH (a positive number, 64 hex digits); got {text!r}"
        )
    return int(seq), digest


def head(db: str | Path) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the newest entry of the log ``db`` (``(0, GENESIS_HASH)`` if empty)."""
    rows, _ = _read_log(Path(db))
    return (
        (0, GENESIS_HASH)
        if not rows
        else (int(rows[-1][0]), str(rows[-1][_COLUMNS.index("entry_hash")]))
    )


def verify(
    db: str | Path, *, key: str | bytes | None = None, head: str | None = None
) -> VerificationResult:
    """Check the hash chain of the audit log ``db``.

    Walks the entries in sequence order and checks, for each, that its sequence
    number follows the previous one, that ``prev_hash`` equals the previous entry's
    hash and that ``entry_hash`` equals the hash recomputed from its fields (HMAC
    under the audit key for keyed entries); that no unkeyed entry follows a keyed
    one; that the newest entry is the recorded chain head; and, given ``head``
    (``SEQ:HASH`` kept outside the file), that the log still holds that entry with
    that hash.

    Without the key (none passed or configured), keyed entries' contents cannot be
    authenticated: links, order and the ``head`` are still checked, and the message
    says so.

    Returns
    -------
    VerificationResult
        ``ok`` is False on the first failure, with the entry named.
    """
    path = Path(db)
    anchor = None if head is None else parse_head(head)
    secret = find_key(key, required=False)
    own_id = None if secret is None else key_id(secret)
    rows, recorded = _read_log(path)

    prev_hash, expected_seq = GENESIS_HASH, 1
    n_authenticated = n_unkeyed = 0
    seen_keyed = False
    hashes: dict[int, str] = {}

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
        if entry.keyed:
            seen_keyed = True
            if secret is not None and entry.key_id != own_id:
                return failure(
                    entry.seq,
                    entry.entry_id,
                    f"written with audit key id {entry.key_id}, not the key given (id {own_id}): "
                    "pass the key that wrote the log, or the chain was rewritten with another key",
                )
            if secret is not None:
                if not hmac.compare_digest(entry.compute_hash(secret), entry.entry_hash):
                    return failure(
                        entry.seq, entry.entry_id, "content does not match its HMAC (edited)"
                    )
                n_authenticated += 1
        else:
            if seen_keyed:
                return failure(
                    entry.seq,
                    entry.entry_id,
                    "an unkeyed entry after keyed ones: the chain was rewritten without the key",
                )
            if entry.compute_hash() != entry.entry_hash:
                return failure(
                    entry.seq, entry.entry_id, "content does not match its hash (edited)"
                )
            n_unkeyed += 1
        hashes[entry.seq] = entry.entry_hash
        prev_hash, expected_seq = entry.entry_hash, entry.seq + 1

    n_last = expected_seq - 1
    if recorded is not None and (recorded[0] != n_last or recorded[1] != prev_hash):
        return failure(
            recorded[0],
            None,
            f"the chain head records seq={recorded[0]} but the log ends at seq={n_last}: "
            "the newest entries were deleted or the head edited",
        )
    if recorded is None and rows:
        return failure(n_last, None, "the chain head record is missing")
    if anchor is not None:
        seq, digest = anchor
        if seq > n_last:
            return failure(
                seq,
                None,
                f"the head kept outside the log is seq={seq} but the log ends at seq={n_last}: "
                "the newest entries were cut off (truncation)",
            )
        if hashes[seq] != digest:
            return failure(
                seq,
                None,
                f"the head kept outside the log has hash {digest[:16]}..., the log holds "
                f"{hashes[seq][:16]}... at seq={seq}: the log was rewritten",
            )
    n_keyed = len(rows) - n_unkeyed
    proven = [f"{len(rows)} entries verified; head {n_last}:{prev_hash}"]
    if n_keyed and secret is None:
        proven.append(
            f"no audit key: the links and order of the {n_keyed} keyed entries were checked, "
            "their contents not authenticated (an edit with a recomputed chain would pass; "
            "set the key to check)"
        )
    elif n_keyed:
        proven.append(f"{n_authenticated} keyed entries authenticated with key id {own_id}")
    if n_unkeyed:
        proven.append(
            f"{n_unkeyed} unkeyed legacy entries (seq 1-{n_unkeyed}) checked as a plain SHA-256 "
            "chain: proof against accidental change only"
        )
    proven.append(
        f"anchored by the head seq={anchor[0]} kept outside the log"
        if anchor is not None
        else "no --head given: truncation together with the head record cannot be excluded"
    )
    return VerificationResult(
        ok=True,
        n_entries=len(rows),
        head_hash=prev_hash,
        message="; ".join(proven),
        n_authenticated=n_authenticated,
        n_unkeyed=n_unkeyed,
        head_checked=anchor is not None,
    )
