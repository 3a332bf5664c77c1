"""Hash-chained audit log: intact logs verify, any edit, deletion or swap is named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cardiolens.audit import GENESIS_HASH, AuditLog, sha256_file, verify
from cardiolens.cli import main
from cardiolens.core.errors import AuditError


@pytest.fixture()
def log_path(tmp_path: Path) -> Path:
    log = AuditLog(tmp_path / "audit.sqlite")
    for index in range(5):
        log.append(
            "analyze",
            user=f"user{index}",
            software_version="0.1.0",
            model_versions={"risk": "abc123"},
            input_hashes={f"in{index}.dcm": "0" * 64},
            output_hashes={"report.json": "f" * 64},
            overrides=[],
            details={"marker": f"payload-{index}-XYZ"},
        )
    return log.path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


def _tamper(path: Path, sql: str, params: tuple = ()) -> None:
    """Bypass the append-only triggers the way someone editing the file would."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DROP TRIGGER audit_entries_no_update")
    connection.execute("DROP TRIGGER audit_entries_no_delete")
    connection.execute(sql, params)
    connection.close()


def test_intact_log_verifies_and_cli_exits_0(log_path, capsys):
    result = verify(log_path)
    assert result.ok and result.n_entries == 5
    entries = AuditLog(log_path).entries()
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
    assert result.head_hash == entries[-1].entry_hash
    code, out = _cli(["audit", "verify", str(log_path)], capsys)
    assert code == 0 and "OK" in out


def test_triggers_refuse_update_and_delete(log_path):
    connection = sqlite3.connect(log_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("UPDATE audit_entries SET user = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("DELETE FROM audit_entries WHERE seq = 1")
    connection.close()


def test_one_character_changed_via_sqlite_is_named(log_path, capsys):
    _tamper(log_path, "UPDATE audit_entries SET user = 'user9' WHERE seq = 3")
    result = verify(log_path)
    assert not result.ok and result.bad_seq == 3
    code, out = _cli(["audit", "verify", str(log_path)], capsys)
    assert code == 2 and "seq=3" in out and len(out.strip().splitlines()) == 1


def test_one_byte_flipped_in_the_file_is_named(log_path):
    data = bytearray(log_path.read_bytes())
    offset = data.find(b"payload-2-XYZ")
    assert offset > 0
    data[offset + len("payload-2-")] ^= 0x01  # 'X' -> 'Y'
    log_path.write_bytes(bytes(data))
    result = verify(log_path)
    assert not result.ok and result.bad_seq == 3  # details of the third entry (index 2)
    assert log_path.read_bytes() == bytes(data)  # verification never writes


def test_deleted_entry_is_named(log_path, capsys):
    _tamper(log_path, "DELETE FROM audit_entries WHERE seq = 2")
    result = verify(log_path)
    assert not result.ok and result.bad_seq == 3
    code, out = _cli(["audit", "verify", str(log_path)], capsys)
    assert code == 2 and "seq=3" in out


def test_deleted_newest_entry_is_detected(log_path):
    _tamper(log_path, "DELETE FROM audit_entries WHERE seq = 5")
    result = verify(log_path)
    assert not result.ok and result.bad_seq == 5


def test_swapped_entries_are_named(log_path, capsys):
    columns = "entry_id, timestamp_utc, action, user, software_version, model_versions, input_hashes, output_hashes, overrides, details, prev_hash, entry_hash"
    connection = sqlite3.connect(log_path, isolation_level=None)
    rows = {
        seq: connection.execute(
            f"SELECT {columns} FROM audit_entries WHERE seq = ?", (seq,)
        ).fetchone()
        for seq in (2, 4)
    }
    connection.close()
    _tamper(log_path, "DELETE FROM audit_entries WHERE seq IN (2, 4)")
    connection = sqlite3.connect(log_path, isolation_level=None)
    for seq, row in ((2, rows[4]), (4, rows[2])):
        connection.execute(
            f"INSERT INTO audit_entries (seq, {columns}) VALUES (?, {', '.join('?' * 12)})",
            (seq, *row),
        )
    connection.close()
    result = verify(log_path)
    assert not result.ok and result.bad_seq == 2
    code, out = _cli(["audit", "verify", str(log_path)], capsys)
    assert code == 2 and "seq=2" in out


def test_missing_or_garbage_log_is_a_clear_error(tmp_path):
    with pytest.raises(AuditError, match="not found"):
        verify(tmp_path / "nope.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditError, match="SQLite"):
        verify(garbage)


def test_sha256_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
