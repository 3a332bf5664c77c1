"""``cardiolens serve`` (the REST service and review page) and ``cardiolens token``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

ADMIN_TOKEN_FILE = "admin.token"

token_app = typer.Typer(help="Bearer tokens of the REST service.", no_args_is_help=True)


def serve(
    data: Annotated[Path, typer.Option("--data", help="Service folder (jobs, reports, audit).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest accepted upload, MB.")
    ] = 2048.0,
    orthanc: Annotated[
        str | None, typer.Option("--orthanc", help="Orthanc REST URL (http://host:8042).")
    ] = None,
    watch_pacs: Annotated[
        bool, typer.Option("--watch-pacs", help="Analyse every study Orthanc reports stable.")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Analyses at once.")] = 1,
    pacs_attempts: Annotated[
        int, typer.Option("--pacs-attempts", min=1, help="Tries per PACS request.")
    ] = 5,
    pacs_delay: Annotated[
        float, typer.Option("--pacs-delay", help="First retry delay (doubles), s.")
    ] = 1.0,
) -> None:
    """Run the REST service (OpenAPI at /docs, /openapi.json) and the review page at /review.

    Orthanc credentials, if any, come from CARDIOLENS_ORTHANC_USER and
    CARDIOLENS_ORTHANC_PASSWORD. On first start an admin token is written to
    DATA/admin.token (readable by the owner only).
    """
    import logging

    import uvicorn

    from cardiolens.service.app import create_app
    from cardiolens.service.config import ServiceConfig
    from cardiolens.service.store import JobStore, Role

    config = ServiceConfig(
        data_dir=data,
        max_upload_mb=max_upload_mb,
        orthanc_url=orthanc,
        orthanc_user=os.environ.get("CARDIOLENS_ORTHANC_USER"),
        orthanc_password=os.environ.get("CARDIOLENS_ORTHANC_PASSWORD"),
        watch_pacs=watch_pacs,
        workers=workers,
        pacs_attempts=pacs_attempts,
        pacs_first_delay_s=pacs_delay,
    )
    logging.getLogger("cardiolens.service").setLevel(logging.INFO)
    store = JobStore(config.store_path)
    if not store.users():
        token_path = data / ADMIN_TOKEN_FILE
        token_path.touch(mode=0o600)
        token_path.write_text(store.add_token("admin", Role.ADMIN) + "\n")
        logging.getLogger("cardiolens.service").warning(
            "first start: an admin token was written to %s", token_path
        )
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


@token_app.command("add")
def add_token(
    data: Annotated[Path, typer.Option("--data", help="Service folder.")],
    user: Annotated[str, typer.Option("--user", help="Who the token is for.")],
    role: Annotated[str, typer.Option("--role", help="reader, physician or admin.")],
) -> None:
    """Create a bearer token and print it (it is stored hashed and shown only now)."""
    from cardiolens.core.errors import ParameterError
    from cardiolens.service.config import ServiceConfig
    from cardiolens.service.store import JobStore, Role

    try:
        role_value = Role(role)
    except ValueError:
        raise ParameterError(f"--role must be reader, physician or admin; got {role!r}") from None
    typer.echo(JobStore(ServiceConfig(data).store_path).add_token(user, role_value))


@token_app.command("list")
def list_tokens(data: Annotated[Path, typer.Option("--data", help="Service folder.")]) -> None:
    """Users and roles holding tokens (the tokens themselves are not kept)."""
    from cardiolens.service.config import ServiceConfig
    from cardiolens.service.store import JobStore

    for entry in JobStore(ServiceConfig(data).store_path).users():
        typer.echo(f"{entry['user']}\t{entry['role']}\t{entry['created_utc']}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
