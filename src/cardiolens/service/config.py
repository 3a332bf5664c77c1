"""Where the service keeps its state, and the audit entries it writes for each action."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardiolens import __version__
from cardiolens.audit import AuditLog

__all__ = ["ServiceConfig", "audit_action"]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha")


@dataclass(frozen=True)
class ServiceConfig:
    """Settings of one ``cardiolens serve``.

    Attributes
    ----------
    data_dir
        ``service.sqlite`` (jobs, tokens), ``audit.sqlite`` (every action, every
        analysis), ``jobs/ID/input`` and ``jobs/ID/out`` (the report files).
    max_upload_mb
        Largest accepted upload (request body and unpacked zip), MB.
    orthanc_url
        Orthanc REST address for PACS submissions, store-back and the stable-study
        watch; ``None``: no PACS.
    watch_pacs
        Follow Orthanc's ``/changes`` and analyse each stable study once.
    workers
        Analyses run at the same time (one process each).
    pacs_attempts, pacs_first_delay_s
        Retry policy towards the PACS (exponential backoff).
    poll_s
        How often the queue and the PACS are polled, s.
    """

    data_dir: Path
    max_upload_mb: float = 2048.0
    orthanc_url: str | None = None
    orthanc_user: str | None = None
    orthanc_password: str | None = None
    watch_pacs: bool = False
    workers: int = 1
    pacs_attempts: int = 5
    pacs_first_delay_s: float = 1.0
    poll_s: float = 1.0

    @property
    def store_path(self) -> Path:
        return self.data_dir / "service.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "audit.sqlite"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    def input_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "input"

    def out_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "out"

    def analysis_input(self, job_id: str) -> Path:
        """The path analysed: the one NIfTI/NRRD image of the input folder, else the folder."""
        folder = self.input_dir(job_id)
        images = [p for p in folder.iterdir() if p.name.lower().endswith(_IMAGE_SUFFIXES)]
        return images[0] if len(images) == 1 else folder

    def orthanc(self):
        """An :class:`~cardiolens.service.pacs.OrthancClient`, or ``None`` without a PACS."""
        from cardiolens.service.pacs import OrthancClient

        if self.orthanc_url is None:
            return None
        return OrthancClient(
            self.orthanc_url,
            self.orthanc_user,
            self.orthanc_password,
            attempts=self.pacs_attempts,
            first_delay_s=self.pacs_first_delay_s,
        )


def audit_action(config: ServiceConfig, action: str, user: str, **details: Any) -> None:
    """Append a service action (``service.submit``, ``service.view``...) to the audit log."""
    AuditLog(config.audit_path).append(
        action, user=user, software_version=__version__, details=details
    )
