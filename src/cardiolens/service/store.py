"""The service's job queue, tokens and PACS cursor in one SQLite file (survives restarts).

Jobs move ``queued -> running -> done | failed``; a job found ``running`` when the
service starts (it was stopped mid-analysis) goes back to ``queued``. Bearer tokens
are stored as their SHA-256 only; the token itself is shown once, when created.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cardiolens.core.errors import ParameterError

__all__ = ["Job", "JobStatus", "JobStore", "Role", "hash_token"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    step TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    study_uid TEXT,
    submitted_by TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    needs_review INTEGER,
    n_flags INTEGER,
    study_date TEXT,
    signed_by TEXT,
    signed_utc TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    created_utc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Role(StrEnum):
    """reader: view; physician: submit, amend and sign; admin: submit, tokens, audit."""

    READER = "reader"
    PHYSICIAN = "physician"
    ADMIN = "admin"


@dataclass(frozen=True)
class Job:
    """One analysis job as stored (``signed_by``/``signed_utc`` mirror the report's final
    sign-off for the worklist; the lock itself is the report's)."""

    job_id: str
    status: JobStatus
    progress: float
    step: str
    source: str
    study_uid: str | None
    submitted_by: str
    created_utc: str
    updated_utc: str
    attempts: int
    error: str
    needs_review: bool | None
    n_flags: int | None
    study_date: str | None
    signed_by: str | None
    signed_utc: str | None

    def to_json(self) -> dict[str, Any]:
        """The job as the API shows it (no study identifiers beyond the UID asked for)."""
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "progress": self.progress,
            "step": self.step,
            "source": self.source,
            "study_uid": self.study_uid,
            "submitted_by": self.submitted_by,
            "created_utc": self.created_utc,
            "updated_utc": self.updated_utc,
            "attempts": self.attempts,
            "error": self.error,
            "needs_review": self.needs_review,
            "n_flags": self.n_flags,
            "study_date": self.study_date,
            "signed_by": self.signed_by,
            "signed_utc": self.signed_utc,
        }


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a bearer token: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JobStore:
    """Jobs, tokens and settings in ``path`` (SQLite, WAL; safe across processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            yield connection
        finally:
            connection.close()

    # ------------------------------------------------------------------ jobs
    def create_job(self, *, source: str, submitted_by: str, study_uid: str | None = None) -> Job:
        job_id = uuid.uuid4().hex
        now = _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (job_id, status, source, study_uid, submitted_by, created_utc,"
                " updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, JobStatus.QUEUED, source, study_uid, submitted_by, now, now),
            )
        return self.job(job_id)

    def job(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
            found = row.fetchone()
        return None if found is None else _job(found)

    def jobs(self) -> list[Job]:
        """All jobs, the worklist order: needs review first, then newest first."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs"
                " ORDER BY COALESCE(needs_review, 0) DESC, created_utc DESC, job_id"
            ).fetchall()
        return [_job(row) for row in rows]

    def job_for_study(self, study_uid: str) -> Job | None:
        with self._connect() as db:
            found = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE study_uid = ? ORDER BY created_utc DESC",
                (study_uid,),
            ).fetchone()
        return None if found is None else _job(found)

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running (atomically) and return it."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            found = db.execute(
                "SELECT job_id FROM jobs WHERE status = ? ORDER BY created_utc, job_id LIMIT 1",
                (JobStatus.QUEUED,),
            ).fetchone()
            if found is None:
                db.execute("COMMIT")
                return None
            db.execute(
                "UPDATE jobs SET status = ?, attempts = attempts + 1, progress = 0,"
                " updated_utc = ? WHERE job_id = ?",
                (JobStatus.RUNNING, _now(), found[0]),
            )
            db.execute("COMMIT")
        return self.job(found[0])

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of a job (``status``, ``progress``, ``step``, ``error``...)."""
        allowed = set(_JOB_COLUMNS.split(", ")) - {"job_id", "created_utc"}
        unknown = set(values) - allowed
        if unknown:
            raise ParameterError(f"unknown job fields: {', '.join(sorted(unknown))}")
        values["updated_utc"] = _now()
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._connect() as db:
            db.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*values.values(), job_id)
            )

    def requeue_interrupted(self) -> list[str]:
        """Jobs left ``running`` by a stopped service go back to the queue; their ids."""
        with self._connect() as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT job_id FROM jobs WHERE status = ?", (JobStatus.RUNNING,)
                )
            ]
            db.execute(
                "UPDATE jobs SET status = ?, step = 'requeued after a restart', updated_utc = ?"
                " WHERE status = ?",
                (JobStatus.QUEUED, _now(), JobStatus.RUNNING),
            )
        return ids

    # ---------------------------------------------------------------- tokens
    def add_token(self, user: str, role: Role | str) -> str:
        """Create a bearer token for ``user`` with ``role``; return it (stored hashed only)."""
        role = Role(role)
        if not user.strip():
            raise ParameterError("a token needs a user name")
        token = secrets.token_urlsafe(32)
        with self._connect() as db:
            db.execute(
                "INSERT INTO tokens (token_sha256, user, role, created_utc) VALUES (?, ?, ?, ?)",
                (hash_token(token), user, role.value, _now()),
            )
        return token

    def identify(self, token: str) -> tuple[str, Role] | None:
        """The (user, role) of a token, or ``None`` for an unknown token."""
        with self._connect() as db:
            found = db.execute(
                "SELECT user, role FROM tokens WHERE token_sha256 = ?", (hash_token(token),)
            ).fetchone()
        return None if found is None else (found[0], Role(found[1]))

    def users(self) -> list[dict[str, str]]:
        with self._connect() as db:
            rows = db.execute("SELECT user, role, created_utc FROM tokens ORDER BY created_utc")
            return [{"user": u, "role": r, "created_utc": c} for u, r, c in rows]

    # -------------------------------------------------------------- settings
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self._connect() as db:
            found = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if found is None else found[0]

    def set_setting(self, key: str, value: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


_JOB_COLUMNS = ", ".join(Job.__dataclass_fields__)


def _job(row: tuple) -> Job:
    values = dict(zip(Job.__dataclass_fields__, row, strict=True))
    values["status"] = JobStatus(values["status"])
    if values["needs_review"] is not None:
        values["needs_review"] = bool(values["needs_review"])
    return Job(**values)
