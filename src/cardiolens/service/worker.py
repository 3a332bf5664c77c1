"""The job runner: each queued job analysed in its own process; the PACS stable-study watch.

:class:`JobRunner` threads claim queued jobs from the store and run :func:`run_job`
in a fresh process (``spawn``), so a crash or an out-of-memory kill fails one job
with its reason and never the service. Stopping the service terminates running
analyses; their jobs stay ``running`` and are queued again at the next start.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cardiolens.core.errors import CardiolensError
from cardiolens.service.config import ServiceConfig, audit_action
from cardiolens.service.store import JobStatus, JobStore

__all__ = ["JobRunner", "PacsWatch", "needs_review", "run_job", "store_back"]

logger = logging.getLogger(__name__)

_PACS_SEQ = "orthanc_changes_seq"


def needs_review(data: dict[str, Any]) -> bool:
    """A report needs a physician's review when the risk model is undecided, a stage
    warned or errored, or an item was not analysed."""
    risk = data.get("risk") or {}
    return bool(
        risk.get("needs_review")
        or data["failed"]
        or any(f["severity"] in ("warning", "error") for f in data["quality_flags"])
    )


def store_back(config: ServiceConfig, paths: list[Path], user: str, job_id: str) -> None:
    """DICOM files of a job's report (SR, SEG; they reference the source series) into the
    PACS, audited; :class:`~cardiolens.service.pacs.PacsError` if it cannot be reached."""
    client = config.orthanc()
    stored = [client.store(path) for path in paths]
    audit_action(config, "service.pacs_store", user, job_id=job_id, orthanc_ids=stored)


def run_job(config_values: dict[str, Any], job_id: str) -> None:
    """Analyse one job (in a worker process) and record its outcome in the store."""
    from cardiolens.pipeline import analyze_study

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # the stages' warnings name series UIDs and files: they stay in the report, not the log
    logging.getLogger("cardiolens").setLevel(logging.ERROR)
    logging.getLogger("cardiolens.service").setLevel(logging.INFO)
    config = ServiceConfig(**{**config_values, "data_dir": Path(config_values["data_dir"])})
    store = JobStore(config.store_path)
    job = store.job(job_id)

    def on_step(description: str, index: int, steps: int) -> None:
        store.update(job_id, step=description, progress=round(index / steps, 3))

    try:
        if job.source == "pacs":
            client = config.orthanc()
            if client is None:
                raise CardiolensError("the job needs a PACS and the service has none configured")
            store.update(job_id, step="fetching the study from the PACS")
            shutil.rmtree(config.input_dir(job_id), ignore_errors=True)
            client.download_study(client.find_study(job.study_uid), config.input_dir(job_id))
        report = analyze_study(
            config.analysis_input(job_id),
            config.out_dir(job_id),
            audit_db=config.audit_path,
            user=job.submitted_by,
            progress=False,
            on_step=on_step,
        )
        data = report.data
        store.update(
            job_id,
            study_uid=data["study"]["study_uid"],
            study_date=data["study"]["study_date"],
            needs_review=int(needs_review(data)),
            n_flags=len(data["quality_flags"]),
        )
        if job.source == "pacs":
            store.update(job_id, step="storing SR and SEG in the PACS")
            try:
                paths = [p for p in (report.sr_path, *report.seg_paths) if p]
                store_back(config, paths, job.submitted_by, job_id)
            except CardiolensError as error:
                raise CardiolensError(f"report written, not stored in the PACS: {error}") from None
    except Exception as error:  # noqa: BLE001 (one job fails with its reason, never the service)
        reason = (
            str(error)
            if isinstance(error, CardiolensError)
            else (f"internal error {type(error).__name__}: {error}")
        )
        store.update(job_id, status=JobStatus.FAILED, step="failed", error=reason)
        audit_action(config, "service.job_failed", job.submitted_by, job_id=job_id, error=reason)
        logger.warning("job %s failed", job_id)
        return
    store.update(job_id, status=JobStatus.DONE, step="done", progress=1.0, error="")
    audit_action(config, "service.job_done", job.submitted_by, job_id=job_id)


class JobRunner:
    """``config.workers`` threads, each running one job at a time in its own process."""

    def __init__(self, config: ServiceConfig, store: JobStore) -> None:
        self.config, self.store = config, store
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"cardiolens-job-{i}", daemon=True)
            for i in range(config.workers)
        ]
        self._context = multiprocessing.get_context("spawn")

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim_next()
            if job is None:
                self._stop.wait(self.config.poll_s)
                continue
            logger.info("job %s started (attempt %d)", job.job_id, job.attempts)
            self._run(job.job_id)

    def _run(self, job_id: str) -> None:
        values = {**asdict(self.config), "data_dir": str(self.config.data_dir)}
        process = self._context.Process(target=run_job, args=(values, job_id), daemon=True)
        process.start()
        while process.is_alive():
            if self._stop.is_set():  # the job stays running: queued again at the next start
                process.terminate()
                process.join()
                logger.info("job %s interrupted by the service stopping", job_id)
                return
            process.join(0.2)
        job = self.store.job(job_id)
        if job.status == JobStatus.RUNNING:
            reason = (
                f"the analysis process ended unexpectedly (exit code {process.exitcode}; "
                "a negative code is the signal, for example -9 when out of memory)"
            )
            self.store.update(job_id, status=JobStatus.FAILED, step="failed", error=reason)
            audit_action(
                self.config, "service.job_failed", job.submitted_by, job_id=job_id, error=reason
            )
        logger.info("job %s %s", job_id, self.store.job(job_id).status.value)


class PacsWatch:
    """Follows Orthanc's ``/changes``: every new stable study becomes one queued job."""

    def __init__(self, config: ServiceConfig, store: JobStore) -> None:
        self.config, self.store = config, store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cardiolens-pacs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def poll(self) -> list[str]:
        """One look at the PACS; the ids of the jobs created."""
        client = self.config.orthanc()
        since = int(self.store.setting(_PACS_SEQ, "0"))
        events, last = client.stable_studies(since)
        created = []
        for event in events:
            study_uid = client.study_uid(event.orthanc_id)
            if self.store.job_for_study(study_uid) is None:  # our own SR/SEG re-stabilise it
                job = self.store.create_job(source="pacs", submitted_by="pacs", study_uid=study_uid)
                audit_action(
                    self.config, "service.submit", "pacs", job_id=job.job_id, source="pacs"
                )
                created.append(job.job_id)
                logger.info("job %s queued for a stable PACS study", job.job_id)
        self.store.set_setting(_PACS_SEQ, str(last))
        return created

    def _loop(self) -> None:
        delay = self.config.poll_s
        while not self._stop.is_set():
            try:
                self.poll()
                delay = self.config.poll_s
            except CardiolensError as error:
                delay = min(delay * 2, 60.0)
                logger.warning("PACS watch: %s (next look in %.0f s)", error, delay)
            self._stop.wait(delay)
