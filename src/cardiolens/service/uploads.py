"""Check and store an uploaded study: DICOM files, one NIfTI/NRRD image, or a zip of them.

Files are stored under neutral names (``00001.dcm``...) so that no file name, which
may carry a patient's name, reaches the report paths or the service logs. Every
problem is an :class:`UploadError` with the HTTP status and the reason.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cardiolens.core.errors import InputError
from cardiolens.io.dicom_files import is_dicom_file

__all__ = ["UploadError", "discard", "store_upload"]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha")
_CHUNK = 1 << 20


class UploadError(InputError):
    """An upload that cannot be analysed; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _image_suffix(name: str) -> str | None:
    lower = name.lower()
    return next((s for s in _IMAGE_SUFFIXES if lower.endswith(s)), None)


def _starts_like_zip(path: Path) -> bool:
    """A zip's local-file header signature (PKZIP APPNOTE 4.3.7), as a zip reader looks for."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _copy_limited(source: BinaryIO, target: Path, budget: int) -> int:
    """Copy ``source`` to ``target``; raise 413 when more than ``budget`` bytes arrive."""
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise UploadError("the upload is larger than the service's limit", 413)
            out.write(chunk)
    return written


def _extract_zip(archive: Path, folder: Path, budget: int, start: int) -> list[Path]:
    """The members of a zip, written under neutral names; unsafe or oversized archives refused."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts:
                    raise UploadError(f"the zip holds an unsafe path ({member.filename!r})")
            if sum(m.file_size for m in members) > budget:
                raise UploadError("the zip's content is larger than the service's limit", 413)
            paths = []
            for index, member in enumerate(members, start=start):
                suffix = _image_suffix(member.filename) or ".dcm"
                target = folder / f"{index:05d}{suffix}"
                with bundle.open(member) as source:
                    _copy_limited(source, target, budget)
                paths.append(target)
            return paths
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise UploadError(f"the zip cannot be read ({error})") from None


def store_upload(files: Iterable[tuple[str, BinaryIO]], folder: str | Path, max_bytes: int) -> Path:
    """Store uploaded ``(name, stream)`` files in ``folder``; return the path to analyse.

    A zip is unpacked. The result is the folder of DICOM files, or the one NIfTI/NRRD
    image. Raises :class:`UploadError` (400 bad content, 413 too large, 422 no image).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    budget = max_bytes
    stored: list[Path] = []
    for index, (name, stream) in enumerate(files, start=1):
        suffix = _image_suffix(name or "")
        target = folder / f"upload{index:05d}{suffix or '.bin'}"
        budget -= _copy_limited(stream, target, budget)
        if (name or "").lower().endswith(".zip") or _starts_like_zip(target):
            stored += _extract_zip(target, folder, max_bytes, start=len(stored) + 1)
            target.unlink()
        else:
            final = target.with_name(f"{len(stored) + 1:05d}{suffix or '.dcm'}")
            target.rename(final)
            stored.append(final)
    if not stored:
        raise UploadError("the upload holds no file")
    dicom = [p for p in stored if not _image_suffix(p.name) and is_dicom_file(p)]
    images = [p for p in stored if _image_suffix(p.name)]
    for path in set(stored) - set(dicom) - set(images):
        path.unlink()
    if images and dicom:
        raise UploadError("upload either DICOM files or one NIfTI/NRRD image, not both", 422)
    if len(images) > 1:
        raise UploadError("upload one NIfTI/NRRD image per study", 422)
    if images:
        return images[0]
    if not dicom:
        raise UploadError("the upload holds no DICOM, NIfTI or NRRD file", 422)
    return folder


def discard(folder: str | Path) -> None:
    """Remove a stored upload (after a refused upload)."""
    shutil.rmtree(folder, ignore_errors=True)
