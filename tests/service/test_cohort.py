"""A 6-study cohort on a real Dask LocalCluster: 5 real SPECT studies and one bad study."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from distributed import LocalCluster

from cardiolens.cli import main
from cardiolens.service.cohort import run_cohort


@pytest.fixture(scope="module")
def cohort_dir(physionet_dicom_dir, tmp_path_factory):
    """Four PhysioNet rest studies, a copy of the first, and a folder of one corrupt file."""
    root = tmp_path_factory.mktemp("cohort")
    files = sorted(physionet_dicom_dir.glob("*.dcm"))
    for index, path in enumerate([*files, files[0]]):
        (root / f"patient{index}").mkdir()
        shutil.copy(path, root / f"patient{index}" / "rest.dcm")
    (root / "patient5").mkdir()
    (root / "patient5" / "broken.dcm").write_bytes(b"DICM" + b"\x00garbage" * 50)
    return root


def test_cohort_rows_failures_and_resume(cohort_dir, tmp_path, capsys):
    out = tmp_path / "out"
    result = run_cohort(cohort_dir, out, workers=2, memory_limit="2GiB", progress=False)
    assert (result.n_studies, result.n_analysed, result.n_skipped) == (6, 6, 0)
    [failure] = result.failures
    assert failure["study"] == "patient5" and "broken.dcm" in failure["error"]

    table = pd.read_parquet(result.parquet_path)
    assert list(table["study"]) == [f"patient{i}" for i in range(6)]
    assert list(table["status"]) == ["ok"] * 5 + ["failed"]
    csv = pd.read_csv(result.csv_path)
    assert csv.shape == table.shape and list(csv["status"]) == list(table["status"])
    for name in ("patient0", "patient3"):
        report = json.loads((out / "studies" / name / "report.json").read_text())
        row = table.set_index("study").loc[name]
        rest = report["nuclear"]["rest"]
        assert row["nuclear_rest_summed_score"] == rest["summed_score"]
        assert row["nuclear_rest_tpd_pct"] == rest["tpd_pct"]
        assert row["report_id"] == report["report_id"] and row["analyses"] == "nuclear"
    same = table.set_index("study").loc[["patient0", "patient4"], "nuclear_rest_tpd_pct"]
    assert same.iloc[0] == same.iloc[1]  # the same study on either worker

    # a rerun skips every finished study (the bad one too) and starts no cluster
    with pytest.raises(SystemExit) as exit_info:
        main(["cohort", str(cohort_dir), "--out", str(out), "--quiet"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "6 studies (0 analysed, 6 already finished), 1 failed" in printed
    assert "failed: patient5:" in printed
    assert pd.read_parquet(result.parquet_path).equals(table)

    # --retry-failed analyses only the failed study again, on an existing cluster by address
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        again = run_cohort(
            cohort_dir, out, scheduler=cluster.scheduler_address, retry_failed=True, progress=False
        )
    assert (again.n_analysed, again.n_skipped) == (1, 5)
    assert [f["study"] for f in again.failures] == ["patient5"]


def test_missing_cohort_folder_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["cohort", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), "--quiet"])
    assert exit_info.value.code == 2
    assert "cohort folder does not exist" in capsys.readouterr().err


def test_a_study_above_the_worker_memory_limit_is_listed(physionet_dicom_dir, tmp_path):
    """The LocalCluster's nanny restarts a worker above its limit; the study is then listed."""
    (tmp_path / "studies" / "big").mkdir(parents=True)
    shutil.copy(sorted(physionet_dicom_dir.glob("*.dcm"))[0], tmp_path / "studies" / "big")
    result = run_cohort(
        tmp_path / "studies", tmp_path / "out", workers=1, memory_limit="250MiB", progress=False
    )
    [failure] = result.failures
    assert failure["study"] == "big"
    assert failure["error"] == (
        "the workers running it died (KilledWorker); it may need more memory than 250MiB per worker"
    )
