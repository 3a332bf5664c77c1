"""Batch safety: ``analyze`` and ``deidentify`` killed mid-run (SIGKILL, SIGINT) leave no
output that looks complete, and a rerun completes.

The child process pauses just before its N-th rename of a finished temporary file onto
its final name (the moment a non-atomic writer would leave a half-written file) and is
killed there; another run is killed at an arbitrary moment.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

from cardiolens.audit import verify
from cardiolens.io.atomic import PARTIAL_SUFFIX
from cardiolens.io.deidentify import LOG_NAME, deidentify

SECRET = "interrupted-run-secret"
#: Child: run the CLI, pausing (marker file written) before rename number PAUSE_AT.
CHILD = r"""
import os, sys, time, pathlib
marker, pause_at = pathlib.Path(sys.argv[1]), int(sys.argv[2])
real_replace, calls = os.replace, [0]
def paused_replace(source, target):
    calls[0] += 1
    if calls[0] == pause_at:
        marker.write_text(str(target))
        time.sleep(120)
    real_replace(source, target)
os.replace = paused_replace
from cardiolens.cli import main
main(sys.argv[3:])
"""


def _interrupt(args: list[str], tmp_path: Path, pause_at: int, sig: int) -> str | None:
    """Run the CLI in a child, kill it with ``sig`` when paused; the file it was about to
    complete, or None when the run ended before that many renames."""
    marker = tmp_path / f"paused_{pause_at}_{sig}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), str(pause_at), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not marker.exists():
        child.kill()
        child.wait()
        return None
    time.sleep(0.1)
    child.send_signal(sig)
    assert child.wait(timeout=60) != 0
    return marker.read_text()


def _visible(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]


def _check_deidentified(out: Path, pixels: set[bytes]) -> None:
    """Every visible DICOM output is complete (its pixels equal one source's, bit for bit)."""
    for path in _visible(out):
        assert PARTIAL_SUFFIX not in path.name
        if path.name != LOG_NAME:
            assert pydicom.dcmread(path).PixelData in pixels


@pytest.mark.parametrize(("pause_at", "sig"), [(2, signal.SIGKILL), (5, signal.SIGINT)])
def test_deidentify_killed_mid_run_then_rerun(physionet_dicom_dir, tmp_path, pause_at, sig):
    sources = {pydicom.dcmread(p).PixelData for p in physionet_dicom_dir.glob("*.dcm")}
    out = tmp_path / "out"
    args = ["deidentify", str(physionet_dicom_dir), str(out), "--secret", SECRET]
    target = _interrupt(args, tmp_path, pause_at, sig)
    assert target is not None  # 4 files and the log: 5 renames
    assert not Path(target).exists()  # the file being completed never appears half-written
    assert not (out / LOG_NAME).exists()  # the log, written last, marks a finished run
    _check_deidentified(out, sources)
    leftovers = [p for p in out.rglob(f"*{PARTIAL_SUFFIX}")]
    assert (sig == signal.SIGINT) == (not leftovers)  # SIGINT cleans up; SIGKILL cannot
    report = deidentify(physionet_dicom_dir, out, secret=SECRET)
    assert len(report.files_written) == 4 and (out / LOG_NAME).is_file()
    assert not list(out.rglob(f"*{PARTIAL_SUFFIX}"))
    _check_deidentified(out, sources)


def _check_report_folder(out: Path) -> None:
    """A visible report is complete and audited; other outputs are whole files."""
    for path in _visible(out):
        assert PARTIAL_SUFFIX not in path.name
    json_path = out / "report.json"
    if json_path.exists():
        data = json.loads(json_path.read_text())
        receipt = data["provenance"]["audit"]["head"]
        assert verify(out / "audit.sqlite", head=receipt).ok
    html = out / "report.html"
    if html.exists():
        assert html.read_text().rstrip().endswith("</html>")
    for dicom in out.glob("*.dcm"):
        pydicom.dcmread(dicom).walk(lambda ds, elem: elem.value)


@pytest.mark.parametrize(
    ("pause_at", "sig"),
    [(1, signal.SIGKILL), (3, signal.SIGINT), (5, signal.SIGKILL), (6, signal.SIGINT)],
)
def test_analyze_killed_mid_write_then_rerun(qrm_ct_dir, tmp_path, pause_at, sig):
    """One CT slice (calcium fails: a report without SR): renames 1-2 are the staging
    report.json and report.html, 3-4 the same with the audit receipt, 5-6 the moves of
    report.html then report.json into the folder (report.json last)."""
    from cardiolens.pipeline import analyze_study

    source = sorted(qrm_ct_dir.glob("*.dcm"))[0]
    out = tmp_path / "out"
    args = ["analyze", str(source), "--out", str(out), "--quiet"]
    target = _interrupt(args, tmp_path, pause_at, sig)
    assert target is not None
    assert not Path(target).exists() or Path(target).parent.name.startswith(".report-")
    _check_report_folder(out)
    report = analyze_study(source, out, progress=False)
    assert report.json_path.is_file()
    _check_report_folder(out)


def test_analyze_killed_at_an_arbitrary_moment(qrm_ct_dir, tmp_path):
    """No instrumentation: SIGKILL 3 s after the start (imports, reading or writing)."""
    source = sorted(qrm_ct_dir.glob("*.dcm"))[0]
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "cardiolens", "analyze", str(source), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3.0)
    child.kill()
    child.wait()
    if out.exists():
        _check_report_folder(out)
