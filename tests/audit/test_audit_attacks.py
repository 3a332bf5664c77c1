"""An insider with write access to the audit database, but not the key: each attack is
detected by ``verify`` with the key and the head kept outside the file (``--head``)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from cardiolens.audit import AuditEntry, AuditLog, canonical_json, head, verify, write_key_file
from cardiolens.audit.keys import KEY_ENV, KEY_FILE_ENV, find_key
from cardiolens.cli import main
from cardiolens.core.errors import AuditError

COLUMNS = (
    "seq", "entry_id", "timestamp_utc", "action", "user", "software_version", "model_versions",
    "input_hashes", "output_hashes", "overrides", "details", "prev_hash", "entry_hash", "hash_scheme",
)  # fmt: skip
JSON_FIELDS = ("model_versions", "input_hashes", "output_hashes", "overrides", "details")


@pytest.fixture()
def log(tmp_path: Path) -> tuple[Path, str]:
    """A keyed log of 6 entries and the head ``SEQ:HASH`` kept after them."""
    audit = AuditLog(tmp_path / "audit.sqlite")
    for index in range(6):
        entry = audit.append(
            "analyze",
            user=f"user{index}",
            software_version="0.1.0",
            input_hashes={f"in{index}.dcm": "0" * 64},
            details={"report_id": f"r{index}"},
        )
    return audit.path, entry.head


def _rewrite(path: Path, entries: list[AuditEntry]) -> None:
    """Replace the table's content and the head record, bypassing the triggers."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
    connection.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
    connection.execute("DELETE FROM audit_entries")
    for entry in entries:
        row = [getattr(entry, c) for c in COLUMNS]
        row = [
            canonical_json(v) if c in JSON_FIELDS else v for c, v in zip(COLUMNS, row, strict=True)
        ]
        connection.execute(
            f"INSERT INTO audit_entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            row,
        )
    if entries:
        connection.execute(
            "UPDATE chain_head SET seq = ?, entry_hash = ?",
            (entries[-1].seq, entries[-1].entry_hash),
        )
    connection.close()


def _rechain(entries: list[AuditEntry], key: bytes | None, scheme: str) -> list[AuditEntry]:
    """The chain an attacker recomputes: renumbered, relinked, rehashed with ``key``."""
    out, prev = [], "0" * 64
    for seq, entry in enumerate(entries, start=1):
        draft = AuditEntry(
            **{**entry.to_json(), "seq": seq, "prev_hash": prev, "hash_scheme": scheme}
        )
        draft = AuditEntry(**{**draft.to_json(), "entry_hash": draft.compute_hash(key)})
        out.append(draft)
        prev = draft.entry_hash
    return out


def test_intact_log_verifies_with_key_and_head(log):
    path, kept = log
    result = verify(path, head=kept)
    assert result.ok and result.n_authenticated == 6 and result.head_checked
    assert "authenticated" in result.message and "anchored" in result.message


def test_truncation_with_the_head_record_moved_back(log):
    path, kept = log
    _rewrite(path, AuditLog(path).entries()[:4])
    assert verify(path).ok  # the file alone cannot show it...
    result = verify(path, head=kept)  # ...the head kept elsewhere does
    assert not result.ok and result.bad_seq == 6 and "truncation" in result.message


def test_full_rewrite_with_a_recomputed_chain(log):
    path, kept = log
    entries = AuditLog(path).entries()
    edited = [AuditEntry(**{**e.to_json(), "user": "someone.else"}) for e in entries]
    # with the attacker's own key, claiming the real key's id
    _rewrite(path, _rechain(edited, b"attacker-key-0123456789", entries[0].hash_scheme))
    result = verify(path)
    assert not result.ok and result.bad_seq == 1 and "HMAC" in result.message
    # as an unkeyed (legacy) chain: consistent without the head, caught with it
    _rewrite(path, _rechain(edited, None, "sha256"))
    assert verify(path).ok and verify(path).n_unkeyed == 6
    result = verify(path, head=kept)
    assert not result.ok and result.bad_seq == 6 and "rewritten" in result.message


def test_deletion_in_the_middle(log):
    path, kept = log
    entries = AuditLog(path).entries()
    _rewrite(path, entries[:2] + entries[3:])
    result = verify(path, head=kept)
    assert not result.ok and result.bad_seq == 4


def test_deletion_with_renumbering_and_relinking_needs_the_key(log):
    path, kept = log
    entries = AuditLog(path).entries()
    _rewrite(
        path,
        _rechain(entries[:2] + entries[3:], b"attacker-key-0123456789", entries[0].hash_scheme),
    )
    result = verify(path, head=kept)
    assert not result.ok and result.bad_seq == 1


def test_reordering(log):
    path, kept = log
    entries = AuditLog(path).entries()
    entries[2], entries[3] = entries[3], entries[2]
    _rewrite(path, [AuditEntry(**{**e.to_json(), "seq": i}) for i, e in enumerate(entries, 1)])
    result = verify(path, head=kept)
    assert not result.ok and result.bad_seq == 3 and "prev_hash" in result.message


def test_edit_of_one_field(log):
    path, kept = log
    entries = AuditLog(path).entries()
    entries[4] = AuditEntry(**{**entries[4].to_json(), "details": {"report_id": "forged"}})
    _rewrite(path, entries)
    result = verify(path, head=kept)
    assert not result.ok and result.bad_seq == 5 and "HMAC" in result.message


def test_without_the_key_verify_says_what_it_cannot_prove(log, monkeypatch, tmp_path):
    path, kept = log
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    result = verify(path, head=kept)
    assert result.ok and result.n_authenticated == 0
    assert "not authenticated" in result.message
    with pytest.raises(AuditError, match="no audit key.*audit keygen"):
        AuditLog(path).append("analyze", user="u", software_version="0.1.0")


def test_wrong_key_is_named(log):
    path, _ = log
    result = verify(path, key=b"another-key-0123456789")
    assert not result.ok and result.bad_seq == 1 and "key id" in result.message


def test_head_command_and_verify_head_on_the_command_line(log, capsys):
    path, kept = log
    with pytest.raises(SystemExit) as stop:
        main(["audit", "head", str(path)])
    assert stop.value.code in (0, None)
    assert capsys.readouterr().out.strip() == kept == "{}:{}".format(*head(path))
    _rewrite(path, AuditLog(path).entries()[:5])
    with pytest.raises(SystemExit) as stop:
        main(["audit", "verify", str(path), "--head", kept])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "truncation" in err[0]


def test_malformed_head_is_a_clear_error(log):
    path, _ = log
    with pytest.raises(AuditError, match="SEQ:HASH"):
        verify(path, head="7:abc")


def test_legacy_unkeyed_log_is_read_verified_and_continued(tmp_path):
    """A log written before the key (no hash_scheme column) keeps verifying; new entries
    are keyed and chained onto it."""
    path = tmp_path / "old.sqlite"
    old_schema = (Path(__file__).parent / "legacy_schema.sql").read_text()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(old_schema)
    prev = "0" * 64
    for seq in (1, 2):
        entry = AuditEntry(seq=seq, entry_id=f"id{seq}", timestamp_utc="2026-01-01T00:00:00+00:00",
                           action="analyze", user="u", software_version="0.0.9", prev_hash=prev)  # fmt: skip
        entry = AuditEntry(**{**entry.to_json(), "entry_hash": entry.compute_hash()})
        row = [getattr(entry, c) for c in COLUMNS[:-1]]
        row = [json.dumps(v) if c in JSON_FIELDS else v for c, v in zip(COLUMNS, row, strict=False)]
        connection.execute(f"INSERT INTO audit_entries VALUES ({', '.join('?' * 13)})", row)
        connection.execute(
            "INSERT OR REPLACE INTO chain_head VALUES (1, ?, ?)", (seq, entry.entry_hash)
        )
        prev = entry.entry_hash
    connection.close()
    assert verify(path).ok and verify(path).n_unkeyed == 2
    new = AuditLog(path).append("analyze", user="u", software_version="0.1.0")
    result = verify(path, head=new.head)
    assert result.ok and result.n_unkeyed == 2 and result.n_authenticated == 1
    assert "legacy" in result.message


def test_keygen_writes_an_owner_only_key_that_writers_find(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = write_key_file()
    assert path == tmp_path / "cardiolens" / "audit.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert find_key(required=True) == path.read_bytes().strip()
    with pytest.raises(AuditError, match="never overwritten"):
        write_key_file(path)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(AuditError, match="not found"):
        find_key(required=True)


def _writer(path: str, worker: int, n: int) -> None:
    audit = AuditLog(path)
    for index in range(n):
        audit.append("analyze", user=f"worker{worker}", software_version="0.1.0",
                     details={"index": index})  # fmt: skip


def test_eight_processes_fifty_entries_each_lose_nothing(tmp_path):
    path = tmp_path / "audit.sqlite"
    AuditLog(path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(str(path), w, 50)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * 8
    entries = AuditLog(path).entries()
    assert len(entries) == 400
    assert {(e.user, e.details["index"]) for e in entries} == {
        (f"worker{w}", i) for w in range(8) for i in range(50)
    }
    result = verify(path, head=entries[-1].head)
    assert result.ok and result.n_authenticated == 400
