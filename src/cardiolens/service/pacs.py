"""Orthanc PACS over its REST API: fetch a study, store SR/SEG back, follow ``/changes``.

A call that cannot reach Orthanc (connection refused, timeout, HTTP 5xx) is retried
with exponential backoff (``first_delay_s``, doubled each time, ``attempts`` in all);
then a :class:`PacsError` names the PACS and the last reason. HTTP 4xx answers are
not retried. Only the standard library is used (``urllib``).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardiolens.core.errors import CardiolensError

__all__ = ["OrthancClient", "PacsError", "StableStudy"]

logger = logging.getLogger(__name__)


class PacsError(CardiolensError):
    """The PACS could not be reached or refused a request."""


@dataclass(frozen=True)
class StableStudy:
    """A study Orthanc reports stable (no new instance for its ``StableAge``)."""

    seq: int
    orthanc_id: str


@dataclass(frozen=True)
class OrthancClient:
    """An Orthanc server at ``url`` (``http://host:8042``), optionally with HTTP basic auth."""

    url: str
    username: str | None = None
    password: str | None = None
    attempts: int = 5
    first_delay_s: float = 1.0
    timeout_s: float = 30.0

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.url.rstrip("/") + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/octet-stream")
        if self.username is not None:
            secret = f"{self.username}:{self.password or ''}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
        delay, reason = self.first_delay_s, ""
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                    return answer.read()
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    raise PacsError(
                        f"the PACS at {self.url} refused {method} {path.split('?')[0]}: "
                        f"HTTP {error.code}"
                    ) from None
                reason = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError) as error:
                reason = str(getattr(error, "reason", error))
            if attempt < self.attempts:
                logger.warning(
                    "PACS %s: attempt %d of %d failed (%s); retrying in %.1f s",
                    self.url,
                    attempt,
                    self.attempts,
                    reason,
                    delay,
                )
                time.sleep(delay)
                delay *= 2
        raise PacsError(
            f"the PACS at {self.url} is unreachable after {self.attempts} attempts: {reason}"
        )

    def _json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        return json.loads(self._request(method, path, body))

    def find_study(self, study_uid: str) -> str:
        """Orthanc's id of the study with this StudyInstanceUID."""
        found = self._json(
            "POST", "/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}
        )
        if not found:
            raise PacsError(f"the PACS at {self.url} holds no study with this StudyInstanceUID")
        return found[0]

    def study_uid(self, orthanc_id: str) -> str:
        return self._json("GET", f"/studies/{orthanc_id}")["MainDicomTags"]["StudyInstanceUID"]

    def download_study(self, orthanc_id: str, folder: str | Path) -> list[Path]:
        """The study's instances (Orthanc's zip archive) written to ``folder`` as NNNNN.dcm."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / "study.zip"
        archive.write_bytes(self._request("GET", f"/studies/{orthanc_id}/archive"))
        paths = []
        with zipfile.ZipFile(archive) as bundle:
            for index, member in enumerate((m for m in bundle.infolist() if not m.is_dir()), 1):
                path = folder / f"{index:05d}.dcm"
                path.write_bytes(bundle.read(member))
                paths.append(path)
        archive.unlink()
        return paths

    def store(self, path: str | Path) -> str:
        """Store one DICOM file (C-STORE over REST, ``POST /instances``); its Orthanc id."""
        answer = json.loads(self._request("POST", "/instances", Path(path).read_bytes()))
        return answer["ID"]

    def stable_studies(self, since: int) -> tuple[list[StableStudy], int]:
        """``StableStudy`` changes after sequence number ``since``; and the last sequence seen."""
        events: list[StableStudy] = []
        while True:
            page = self._json("GET", f"/changes?since={since}&limit=100")
            events += [
                StableStudy(change["Seq"], change["ID"])
                for change in page["Changes"]
                if change["ChangeType"] == "StableStudy"
            ]
            since = page["Last"]
            if page["Done"]:
                return events, since
