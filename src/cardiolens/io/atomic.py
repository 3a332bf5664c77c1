"""Writing outputs so that an interrupted run never leaves a file that looks complete.

Each file is written under a hidden temporary name in its own folder
(``.NAME.<random>.partial``), flushed to disk and renamed onto ``NAME`` in one
step (``os.replace``, atomic on POSIX within a file system). SIGINT removes the
temporary file; after SIGKILL or a power cut only a hidden ``.partial`` file can
remain, which every reader skips and :func:`remove_partials` clears on a rerun.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "PARTIAL_SUFFIX",
    "atomic_path",
    "remove_partials",
    "write_bytes_atomic",
    "write_text_atomic",
]

PARTIAL_SUFFIX = ".partial"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block
    ends normally, deleted when it raises (KeyboardInterrupt included)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_path`; return ``path``."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`; return ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def remove_partials(folder: str | Path) -> int:
    """Delete the temporary files an interrupted run left under ``folder``; return how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    stale = [p for p in folder.rglob(f".*{PARTIAL_SUFFIX}") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
