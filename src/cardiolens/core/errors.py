"""One exception hierarchy for everything cardiolens raises on purpose.

Every error names what was wrong, where (file, series, column or parameter) and,
where one exists, the fix. The CLI prints ``str(error)`` on one line and exits 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CardiolensError(Exception):
    """Base class of all errors raised deliberately by cardiolens.

    Parameters
    ----------
    message
        What is wrong, in words a user understands; line breaks (from a library's
        message quoted in it) become spaces, so the error prints on one line.
    path
        The file or folder concerned, if any; it prefixes the message.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        message = re.sub(r"\s*[\r\n]+\s*", " ", str(message)).strip()
        self.message = message
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class InputError(CardiolensError):
    """A file or folder cannot be read or does not hold what was expected."""


class DicomError(InputError):
    """A DICOM file is corrupt, truncated, lacks pixel data or a required attribute."""


class GeometryError(InputError):
    """Image geometry is inconsistent (missing slices, tilt, mismatched mask and image)."""


class ModalityError(InputError):
    """The data are of the wrong modality or role for the requested analysis."""


class ParameterError(CardiolensError, ValueError):
    """A parameter or option value is out of range or unknown."""


class SchemaError(CardiolensError, ValueError):
    """A table does not match the expected feature schema (column, type or range)."""


class AnalysisError(CardiolensError):
    """An analysis cannot produce a trustworthy result (for example, no LV found)."""


class AuditError(CardiolensError):
    """The audit log is unreadable or its hash chain does not verify."""


@contextmanager
def naming_file(path: str | Path) -> Iterator[None]:
    """Re-raise a :class:`CardiolensError` that names no file as the same error naming ``path``.

    For callers that know the input file while the computation that fails does not
    (for example a CLI command scoring a volume read from ``path``).
    """
    try:
        yield
    except CardiolensError as error:
        if error.path is not None:
            raise
        raise type(error)(error.message, path) from error
