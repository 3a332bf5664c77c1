"""Cohorts on Dask: one :func:`~cardiolens.pipeline.analyze_study` per study, one row each.

:func:`run_cohort` analyses every study under a folder (each sub-folder, or a file
at its top level, is one study) on a ``dask.distributed`` cluster: a
:class:`~distributed.LocalCluster` of ``workers`` single-threaded processes with a
memory limit each by default, or an existing scheduler by address (the same code
runs on dask-jobqueue or Kubernetes clusters; see the README). Each study's report
goes to ``OUT/studies/NAME/``; its row (status, reason of a failure, every scalar
number of the report's sections) is written to ``OUT/rows/NAME.json`` as soon as
it finishes, so a rerun skips finished studies. ``OUT/results.parquet`` and
``OUT/results.csv`` hold the table of all studies.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardiolens.core.errors import CardiolensError, InputError

__all__ = ["CohortResult", "find_studies", "report_row", "run_cohort"]

logger = logging.getLogger(__name__)

ROWS_DIR = "rows"
STUDIES_DIR = "studies"
RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
DEFAULT_MEMORY_LIMIT = "3GiB"
_SKIPPED_KEYS = {"quality_flags", "features_used"}


@dataclass(frozen=True)
class CohortResult:
    """What one cohort run did."""

    parquet_path: Path
    csv_path: Path
    n_studies: int
    n_analysed: int
    n_skipped: int
    failures: list[dict[str, str]] = field(default_factory=list)
    wall_s: float = 0.0


def find_studies(studies_dir: str | Path) -> dict[str, Path]:
    """The studies under ``studies_dir``: ``{name: path}``, each sub-folder or top-level file.

    Hidden entries (``.name``) are ignored. Raises :class:`InputError` when the
    folder does not exist or holds nothing.
    """
    root = Path(studies_dir)
    if not root.is_dir():
        raise InputError("the cohort folder does not exist or is not a folder", path=root)
    studies = {p.name: p for p in sorted(root.iterdir()) if not p.name.startswith(".")}
    if not studies:
        raise InputError("the cohort folder holds no studies (one sub-folder per study)", path=root)
    return studies


def _flatten(prefix: str, value: Any, row: dict[str, Any]) -> None:
    """Scalar leaves of a report section as ``prefix_key_subkey`` columns (lists skipped)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _SKIPPED_KEYS:
                _flatten(f"{prefix}_{key}", item, row)
    elif isinstance(value, bool | int | float | str) or value is None:
        row[prefix] = value


def report_row(data: Mapping[str, Any], sections: Iterable[str]) -> dict[str, Any]:
    """One results-table row of a report: identifiers, counts and every scalar of ``sections``.

    A section's nested values become ``section_key_subkey`` columns (for example
    ``nuclear_stress_tpd_pct``, ``calcium_per_artery_LAD_agatston``,
    ``risk_interval_lower``); per-segment and per-lesion lists stay in report.json.
    """
    study = data["study"]
    row: dict[str, Any] = {
        "report_id": data["report_id"],
        "study_uid": study["study_uid"],
        "study_date": study.get("study_date"),
        "analyses": ",".join(study["analyses"]),
        "n_series": len(study["series"]),
        "n_quality_flags": len(data["quality_flags"]),
        "n_warnings": sum(f["severity"] != "info" for f in data["quality_flags"]),
        "n_failed_items": len(data["failed"]),
        "failed_items": "; ".join(f"{f['stage']}: {f['error']}" for f in data["failed"]),
        "run_time_s": data["provenance"]["run_time_s"],
    }
    for name in sections:
        _flatten(name, data.get(name), row)
    return row


def analyze_one(name: str, source: str, out_dir: str, options: Mapping[str, Any]) -> dict:
    """Analyse one study (on a worker) and return its row; a deliberate error is a failed row.

    An unexpected exception is also returned as a failed row (type and message), so
    one bad study never stops the cohort.
    """
    import SimpleITK as sitk

    from cardiolens.pipeline import STAGES, analyze_study

    # one study, one core: ITK's filters would otherwise take every core of the machine
    # (Dask already sets OMP/MKL/OpenBLAS threads to 1 in its workers)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    row: dict[str, Any] = {"study": name, "status": "ok", "error": "", "out_dir": out_dir}
    try:
        report = analyze_study(source, out_dir, progress=False, **options)
    except CardiolensError as error:
        return {**row, "status": "failed", "error": str(error)}
    except Exception as error:  # noqa: BLE001 (a batch goes on past any bad study)
        logger.exception("study %s failed unexpectedly", name)
        return {
            **row,
            "status": "failed",
            "error": f"internal error {type(error).__name__}: {error}",
        }
    return {**row, **report_row(report.data, [stage.name for stage in STAGES])}


def _write_row(rows_dir: Path, row: Mapping[str, Any]) -> None:
    """Write a study's row atomically (a rerun trusts any row file it finds)."""
    path = rows_dir / f"{row['study']}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(row, indent=1, default=str), encoding="utf-8")
    os.replace(partial, path)


def _finished_rows(rows_dir: Path, names: Iterable[str], retry_failed: bool) -> dict[str, dict]:
    rows = {}
    for name in names:
        path = rows_dir / f"{name}.json"
        if path.is_file():
            row = json.loads(path.read_text(encoding="utf-8"))
            if row["status"] == "ok" or not retry_failed:
                rows[name] = row
    return rows


def _write_table(out: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """The results table as Parquet and CSV, one row per study in name order."""
    import pandas as pd

    table = pd.DataFrame(rows).sort_values("study", kind="stable").reset_index(drop=True)
    for column in table.select_dtypes(include="object").columns:
        values = table[column].dropna()
        if values.map(type).nunique() > 1 or (len(values) and isinstance(values.iloc[0], str)):
            table[column] = table[column].astype("string")
    first = ["study", "status", "error"]
    table = table[first + [c for c in table.columns if c not in first]]
    parquet_path, csv_path = out / RESULTS_PARQUET, out / RESULTS_CSV
    table.to_parquet(parquet_path, index=False)
    table.to_csv(csv_path, index=False)
    return parquet_path, csv_path


def _client(scheduler: str | None, workers: int, memory_limit: str):
    """A client on the scheduler at ``scheduler`` or on a new LocalCluster (closed by the caller)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as error:
            raise InputError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run_cohort(
    studies_dir: str | Path,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    retry_failed: bool = False,
    progress: bool = True,
    **analysis_options: Any,
) -> CohortResult:
    """Analyse every study under ``studies_dir`` on Dask and write the results table.

    Parameters
    ----------
    studies_dir
        One sub-folder (or top-level file) per study.
    out_dir
        ``studies/NAME/`` reports, ``rows/NAME.json``, ``results.parquet``, ``results.csv``.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); default a
        LocalCluster of ``workers`` processes, one thread and ``memory_limit`` each.
    memory_limit
        Per-worker memory bound (Dask syntax, ``"3GiB"``); a worker above 95 % of it
        is restarted and its study listed as failed.
    retry_failed
        Analyse again studies whose earlier row is a failure (default: skip them too).
    analysis_options
        Passed to :func:`~cardiolens.pipeline.analyze_study` (``model_dir``,
        ``calcium_phantom``, ``normals``, ``user``...).
    """
    import time

    import dask
    import distributed  # noqa: F401 (its config defaults must exist before the override below)

    start = time.perf_counter()
    studies = find_studies(studies_dir)
    out = Path(out_dir)
    rows_dir = out / ROWS_DIR
    rows_dir.mkdir(parents=True, exist_ok=True)
    rows = _finished_rows(rows_dir, studies, retry_failed)
    todo = {name: path for name, path in studies.items() if name not in rows}
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in analysis_options.items()}
    if todo:
        # a study a worker dies on (memory) is retried once elsewhere, then listed
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            client, cluster = _client(scheduler, workers, memory_limit)
            try:
                rows |= _run_on(
                    client, todo, out / STUDIES_DIR, rows_dir, options, progress, memory_limit
                )
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    ordered = [rows[name] for name in studies]
    parquet_path, csv_path = _write_table(out, ordered)
    failures = [{"study": r["study"], "error": r["error"]} for r in ordered if r["status"] != "ok"]
    return CohortResult(
        parquet_path=parquet_path,
        csv_path=csv_path,
        n_studies=len(studies),
        n_analysed=len(todo),
        n_skipped=len(studies) - len(todo),
        failures=failures,
        wall_s=round(time.perf_counter() - start, 2),
    )


def _run_on(
    client: Any,
    todo: Mapping[str, Path],
    reports_dir: Path,
    rows_dir: Path,
    options: Mapping[str, Any],
    progress: bool,
    memory_limit: str,
) -> dict[str, dict]:
    """Submit the studies, collect rows as they finish (with a progress bar)."""
    from distributed import as_completed
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    futures = {
        client.submit(
            analyze_one,
            name,
            str(path.resolve()),
            str((reports_dir / name).resolve()),
            dict(options),
            key=f"cardiolens-study-{name}",
            pure=False,
        ): name
        for name, path in todo.items()
    }
    rows = {}
    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("cohort", total=len(futures))
        for future in as_completed(futures):
            name = futures[future]
            if future.status == "error":
                error = future.exception()
                row = {
                    "study": name,
                    "status": "failed",
                    "error": f"the workers running it died ({type(error).__name__}); "
                    f"it may need more memory than {memory_limit} per worker",
                    "out_dir": str(reports_dir / name),
                }
            else:
                row = future.result()
            _write_row(rows_dir, row)
            rows[name] = row
            bar.update(task, advance=1, description=f"cohort ({name}: {row['status']})")
    return rows
