"""The REST service: submit studies, follow jobs, fetch reports, amend and sign, audit.

Every request but ``/health`` and the OpenAPI description needs
``Authorization: Bearer TOKEN``. Roles: ``reader`` views, ``physician`` also submits,
amends and signs, ``admin`` submits, manages tokens and reads the audit log. Every
action is appended to the hash-chained audit log with the user. Service logs name
jobs by their random id only (no patient data, no file names).
"""

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path

from cardiolens import __version__
from cardiolens.audit import AuditLog
from cardiolens.core.errors import CardiolensError, ParameterError
from cardiolens.service.config import ServiceConfig, audit_action
from cardiolens.service.review import parse_change, review_state
from cardiolens.service.store import Job, JobStatus, JobStore, Role
from cardiolens.service.uploads import UploadError, discard, store_upload
from cardiolens.service.worker import JobRunner, PacsWatch, store_back

__all__ = ["User", "create_app"]

logger = logging.getLogger(__name__)

_VIEW = (Role.READER, Role.PHYSICIAN, Role.ADMIN)
_SUBMIT = (Role.PHYSICIAN, Role.ADMIN)
_SIGN = (Role.PHYSICIAN,)
_ADMIN = (Role.ADMIN,)
STATIC = Path(__file__).resolve().parent / "static"
_UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"


class User(BaseModel):
    name: str
    role: Role


class PacsSubmission(BaseModel):
    study_uid: str = Field(pattern=_UID_PATTERN, max_length=64)


class ReportChange(BaseModel):
    """One typed change: ``segment_score`` (state, segment, score), ``lesion_exclusion``
    (lesion, 1-based), ``lesion_artery`` (lesion, artery) or ``impression`` (text)."""

    kind: str
    state: str | None = None
    segment: int | None = None
    score: int | None = None
    lesion: int | None = None
    artery: str | None = None
    text: str | None = Field(default=None, max_length=20000)


class Amendment(BaseModel):
    """Free text, untyped remarks and typed changes; ``addendum`` once signed final."""

    text: str = Field(default="", max_length=20000)
    overrides: list[str] = Field(default_factory=list, max_length=50)
    changes: list[ReportChange] = Field(default_factory=list, max_length=50)
    addendum: bool = False


class SignOff(BaseModel):
    status: Literal["preliminary", "final"] = "final"


class TokenRequest(BaseModel):
    user: str = Field(min_length=1, max_length=200)
    role: Role


def create_app(config: ServiceConfig, *, run_jobs: bool = True) -> FastAPI:
    """The FastAPI application over ``config.data_dir``; ``run_jobs`` starts the runner."""
    store = JobStore(config.store_path)
    bearer = HTTPBearer(auto_error=False)
    writing = threading.Lock()  # one amendment or sign-off at a time: each rewrites a folder

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        requeued = store.requeue_interrupted()
        for job_id in requeued:
            audit_action(config, "service.requeue", "service", job_id=job_id)
            logger.info("job %s queued again after a restart", job_id)
        threads: list[Any] = []
        if run_jobs:
            threads.append(JobRunner(config, store))
            if config.watch_pacs and config.orthanc_url:
                threads.append(PacsWatch(config, store))
        for thread in threads:
            thread.start()
        yield
        for thread in threads:
            thread.stop()

    app = FastAPI(
        title="cardiolens",
        version=__version__,
        description="Cardiac imaging analysis service: studies in, audited reports out.",
        lifespan=lifespan,
        docs_url=None,  # served below from the packaged Swagger UI: no CDN on an air-gapped site
        redoc_url=None,
    )
    app.state.config, app.state.store = config, store

    def require(*roles: Role) -> Callable[..., User]:
        def check(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> User:
            if credentials is None:
                raise HTTPException(
                    401, "a bearer token is required", {"WWW-Authenticate": "Bearer"}
                )
            found = store.identify(credentials.credentials)
            if found is None:
                raise HTTPException(401, "unknown token", {"WWW-Authenticate": "Bearer"})
            user = User(name=found[0], role=found[1])
            if user.role not in roles:
                raise HTTPException(
                    403, f"the {user.role.value} role may not do this ({_names(roles)} only)"
                )
            return user

        return check

    def job_or_404(job_id: str) -> Job:
        job = store.job(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job

    @app.middleware("http")
    async def limit_upload_size(request: Request, call_next):
        if request.method == "POST" and request.url.path == "/studies":
            length = request.headers.get("content-length")
            if length is None:
                return JSONResponse({"detail": "uploads need a Content-Length"}, 411)
            if int(length) > config.max_upload_bytes + 1024 * 1024:  # multipart framing
                return JSONResponse(
                    {"detail": f"the upload is larger than {config.max_upload_mb:g} MB"}, 413
                )
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness and the queue's size (no authentication)."""
        counts = {status.value: 0 for status in JobStatus}
        for job in store.jobs():
            counts[job.status.value] += 1
        return {"status": "ok", "version": __version__, "jobs": counts}

    @app.post("/studies", status_code=202)
    def submit_upload(
        files: Annotated[list[UploadFile], File(description="DICOM files, a NIfTI/NRRD or a zip")],
        user: Annotated[User, Depends(require(*_SUBMIT))],
    ) -> dict[str, Any]:
        """Queue an uploaded study (multipart: DICOM files, one NIfTI/NRRD, or one zip)."""
        job = store.create_job(source="upload", submitted_by=user.name)
        try:
            store_upload(
                [(f.filename or "", f.file) for f in files],
                config.input_dir(job.job_id),
                config.max_upload_bytes,
            )
        except UploadError as error:
            discard(config.job_dir(job.job_id))
            store.update(job.job_id, status=JobStatus.FAILED, error=f"upload refused: {error}")
            audit_action(
                config, "service.upload_refused", user.name, job_id=job.job_id, reason=str(error)
            )
            raise HTTPException(error.status, str(error)) from None
        audit_action(config, "service.submit", user.name, job_id=job.job_id, source="upload")
        logger.info("job %s queued (upload) by %s", job.job_id, user.name)
        return store.job(job.job_id).to_json()

    @app.post("/studies/pacs", status_code=202)
    def submit_pacs(
        submission: PacsSubmission, user: Annotated[User, Depends(require(*_SUBMIT))]
    ) -> dict[str, Any]:
        """Queue a study held by the PACS, by its StudyInstanceUID."""
        if config.orthanc_url is None:
            raise HTTPException(409, "the service has no PACS configured (serve --orthanc URL)")
        job = store.create_job(
            source="pacs", submitted_by=user.name, study_uid=submission.study_uid
        )
        audit_action(config, "service.submit", user.name, job_id=job.job_id, source="pacs")
        logger.info("job %s queued (PACS) by %s", job.job_id, user.name)
        return job.to_json()

    @app.get("/jobs")
    def worklist(user: Annotated[User, Depends(require(*_VIEW))]) -> list[dict[str, Any]]:
        """All jobs: needs review first, then newest first."""
        audit_action(config, "service.worklist", user.name)
        return [job.to_json() for job in store.jobs()]

    @app.get("/jobs/{job_id}")
    def job_status(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]) -> dict[str, Any]:
        """A job's status, progress and outcome."""
        job = job_or_404(job_id)
        audit_action(config, "service.view_job", user.name, job_id=job_id)
        return job.to_json()

    def report_file(job_id: str, name: str, user: User) -> FileResponse:
        job = job_or_404(job_id)
        path = config.out_dir(job_id) / name
        if not path.is_file():
            detail = f"no {name} for this job" + (
                "" if job.status == JobStatus.DONE else f" (the job is {job.status.value})"
            )
            raise HTTPException(404, detail)
        audit_action(config, "service.view_report", user.name, job_id=job_id, file=name)
        media = {".json": "application/json", ".html": "text/html", ".dcm": "application/dicom"}
        return FileResponse(path, media_type=media.get(path.suffix, "application/octet-stream"))

    @app.get("/jobs/{job_id}/report.json")
    def get_report_json(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]):
        return report_file(job_id, "report.json", user)

    @app.get("/jobs/{job_id}/report.html")
    def get_report_html(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]):
        return report_file(job_id, "report.html", user)

    @app.get("/jobs/{job_id}/sr.dcm")
    def get_sr(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]):
        """The current SR: that of the latest amendment or sign-off, else the first."""
        from cardiolens.report.amendments import latest_sr
        from cardiolens.report.document import load_report

        out = config.out_dir(job_id)
        current = latest_sr(out, load_report(out)) if (out / "report.json").is_file() else None
        return report_file(job_id, current.name if current else "sr.dcm", user)

    @app.get("/jobs/{job_id}/seg")
    def list_seg(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]) -> list[str]:
        """Names of the job's DICOM SEG files."""
        job_or_404(job_id)
        return sorted(p.name for p in config.out_dir(job_id).glob("seg*.dcm"))

    @app.get("/jobs/{job_id}/seg/{name}")
    def get_seg(job_id: str, name: str, user: Annotated[User, Depends(require(*_VIEW))]):
        if Path(name).name != name or not (name.startswith("seg") and name.endswith(".dcm")):
            raise HTTPException(404, "no such SEG file")
        return report_file(job_id, name, user)

    @app.get("/jobs/{job_id}/figures/{name}")
    def get_figure(job_id: str, name: str, user: Annotated[User, Depends(require(*_VIEW))]):
        if Path(name).name != name or not name.endswith(".png"):
            raise HTTPException(404, "no such figure")
        return report_file(job_id, f"figures/{name}", user)

    def report_folder(job_id: str, *, addendum: bool = False) -> Path:
        """The job's report folder; 409 when there is no report or it is locked (final)."""
        from cardiolens.report.amendments import check_unlocked
        from cardiolens.report.document import load_report

        job = job_or_404(job_id)
        if job.status != JobStatus.DONE:
            raise HTTPException(409, f"the job is {job.status.value}: no report to amend")
        out = config.out_dir(job_id)
        try:
            check_unlocked(load_report(out), addendum=addendum)
        except ParameterError as error:
            raise HTTPException(409, str(error)) from None
        return out

    def with_pacs_copy(job_id: str, data: dict[str, Any], user: User) -> dict[str, Any]:
        """The review state; a study from the PACS gets the new SR stored back (``pacs``:
        ``stored`` or the ``error``: the report is written either way)."""
        from cardiolens.report.amendments import latest_sr

        state = review_state(data)
        out, job = config.out_dir(job_id), job_or_404(job_id)
        sr = latest_sr(out, data)
        if job.source != "pacs" or config.orthanc_url is None or sr is None:
            return state
        try:
            store_back(config, [sr], user.name, job_id)
        except CardiolensError as error:
            audit_action(
                config, "service.pacs_store_failed", user.name, job_id=job_id, reason=str(error)
            )
            return state | {"pacs": {"error": f"the new SR is not in the PACS: {error}"}}
        return state | {"pacs": {"stored": sr.name}}

    @app.post("/jobs/{job_id}/amend")
    def amend(
        job_id: str, amendment: Amendment, user: Annotated[User, Depends(require(*_SIGN))]
    ) -> dict[str, Any]:
        """A physician's amendment: typed changes recompute the report (``report.json``,
        ``report.html``, a new SR superseding the previous); text and remarks are recorded.
        A report signed final takes an addendum only (409 otherwise)."""
        from cardiolens.pipeline import amend_report

        with writing:
            out = report_folder(job_id, addendum=amendment.addendum)
            try:
                data = amend_report(
                    out,
                    user=user.name,
                    text=amendment.text,
                    changes=[parse_change(change.model_dump()) for change in amendment.changes],
                    overrides=amendment.overrides,
                    addendum=amendment.addendum,
                    audit_db=config.audit_path,
                )
            except CardiolensError as error:
                raise HTTPException(422, str(error)) from None
        logger.info("job %s amended by %s", job_id, user.name)
        return with_pacs_copy(job_id, data, user)

    @app.post("/jobs/{job_id}/sign")
    def sign(
        job_id: str,
        user: Annotated[User, Depends(require(*_SIGN))],
        signoff: SignOff | None = None,
    ) -> dict[str, Any]:
        """Sign the report (``final`` by default, or ``preliminary``); final locks it."""
        from cardiolens.pipeline import sign_report

        status = (signoff or SignOff()).status
        with writing:
            out = report_folder(job_id)
            try:
                data = sign_report(out, reader=user.name, status=status, audit_db=config.audit_path)
            except CardiolensError as error:
                raise HTTPException(422, str(error)) from None
        if status == "final":  # the worklist mirrors the report's lock
            signed = data["physician"]["signoff"]
            store.update(job_id, signed_by=signed["reader"], signed_utc=signed["time_utc"])
        logger.info("job %s signed %s by %s", job_id, status, user.name)
        return with_pacs_copy(job_id, data, user)

    @app.get("/jobs/{job_id}/figures")
    def list_figures(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]) -> list[str]:
        """Names of the report's figures (PNG)."""
        job_or_404(job_id)
        return sorted(p.name for p in (config.out_dir(job_id) / "figures").glob("*.png"))

    @app.get("/jobs/{job_id}/review")
    def get_review(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]):
        """The reviewable values (segment scores, lesions, impression, SSS/SRS/SDS,
        Agatston, CAC-DRS) as the report holds them and as automated, with its sign-off."""
        from cardiolens.report.document import load_report

        job = job_or_404(job_id)
        if job.status != JobStatus.DONE:
            raise HTTPException(409, f"the job is {job.status.value}: no report to review")
        audit_action(config, "service.view_report", user.name, job_id=job_id, file="review")
        return review_state(load_report(config.out_dir(job_id)))

    @app.get("/review", include_in_schema=False)
    def review_page() -> FileResponse:
        """The clinician review page (plain HTML/JS/CSS shipped in the package)."""
        return FileResponse(STATIC / "review.html", media_type="text/html")

    app.mount("/review/static", StaticFiles(directory=STATIC), name="review-static")
    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Interactive API documentation, every asset served by this service."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="cardiolens API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )

    @app.get("/jobs/{job_id}/audit")
    def job_audit(job_id: str, user: Annotated[User, Depends(require(*_VIEW))]) -> list[dict]:
        """The audit entries about this job's report (analysis, amendments, sign-off)."""
        job_or_404(job_id)
        out = str(config.out_dir(job_id))
        entries = [
            e.to_json()
            for e in AuditLog(config.audit_path).entries()
            if e.details.get("job_id") == job_id or e.details.get("out_dir") == out
        ]
        return [
            e for e in entries if e["action"] not in ("service.view_job", "service.view_report")
        ]

    @app.post("/tokens", status_code=201)
    def add_token(request: TokenRequest, user: Annotated[User, Depends(require(*_ADMIN))]):
        """Create a token (shown once; stored hashed)."""
        token = store.add_token(request.user, request.role)
        audit_action(
            config, "service.token_add", user.name, for_user=request.user, role=request.role.value
        )
        return {"user": request.user, "role": request.role.value, "token": token}

    @app.get("/tokens")
    def list_tokens(user: Annotated[User, Depends(require(*_ADMIN))]) -> list[dict[str, str]]:
        return store.users()

    @app.get("/audit")
    def audit(user: Annotated[User, Depends(require(*_ADMIN))], last: int = 100) -> list[dict]:
        """The newest ``last`` audit entries."""
        audit_action(config, "service.audit_read", user.name)
        return [e.to_json() for e in AuditLog(config.audit_path).entries()[-last:]]

    return app


def _names(roles: tuple[Role, ...]) -> str:
    return "/".join(role.value for role in roles)
