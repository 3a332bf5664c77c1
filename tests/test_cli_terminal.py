"""Terminal behaviour of the CLI: -h, help at full width off a terminal, one-line usage errors."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from cardiolens import pipeline
from cardiolens.__main__ import run
from cardiolens.cli import HELP_WIDTH_NOT_A_TERMINAL, main

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(*args: str) -> subprocess.CompletedProcess:
    """``python -m cardiolens ARGS`` with stdout a pipe (not a terminal), no COLUMNS set."""
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-m", "cardiolens", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_dash_h_is_help_and_tables_are_not_cut_at_80_columns():
    result = _run("report", "amend", "-h")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("--segment-score" in line for line in lines)
    assert "…" not in result.stdout
    assert max(len(line) for line in lines) > 80
    assert max(len(line) for line in lines) <= HELP_WIDTH_NOT_A_TERMINAL
    # the option's help is printed whole, on one row at this width
    assert any(
        "STATE:SEGMENT=SCORE, e.g. stress:7=2 (AHA segment 1-17, score 0-4)" in line
        for line in lines
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "amend"], "Missing argument 'folder' (see 'cardiolens report amend --help')"),
        (["report", "amend", "x", "--bogus"], "No such option: --bogus"),
        (["nosuch"], "No such command 'nosuch' (see 'cardiolens --help')"),
        (["report", "amend", "x", "--user", "u", "--exclude-lesion", "one"], "'--exclude-lesion'"),
    ],
)
def test_usage_errors_are_one_line_like_other_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cardiolens: error: "), err
    assert message in err
    assert "╭" not in err and "Usage:" not in err


def test_cardiolens_errors_keep_their_one_line_form(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "sign", str(tmp_path), "--reader", "Dr A"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("cardiolens: error: ") and "report.json" in err
    assert err.count("\n") == 1


class _LoadingInterrupted(types.ModuleType):
    """Stands in for ``cardiolens.cli`` while Ctrl-C arrives during its imports."""

    def __getattr__(self, name: str):
        raise KeyboardInterrupt


def test_ctrl_c_while_the_libraries_load_is_one_line_and_exit_130(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cardiolens.cli", _LoadingInterrupted("cardiolens.cli"))
    with pytest.raises(SystemExit) as exit_:
        run()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "cardiolens: interrupted\n"


def test_ctrl_c_during_analysis_is_one_line_exit_130_and_leaves_no_report(
    physionet_dicom_dir, tmp_path, monkeypatch, capsys
):
    """A real PhysioNet SPECT study interrupted once its whole report (SR, SEG, figures,
    audit entry) is staged, just before it is moved into place."""
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(sorted(physionet_dicom_dir.glob("*.dcm"))[0], study)
    out = tmp_path / "out"
    staged = []

    def interrupted(staging, out_dir):
        staged.extend(p.relative_to(staging).as_posix() for p in Path(staging).rglob("*.*"))
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "publish_report", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(study), "--out", str(out), "--quiet"])
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "cardiolens: interrupted\n"
    assert {"report.json", "report.html", "sr.dcm", "seg.dcm"} <= set(staged)
    assert any(name.startswith("figures/") for name in staged)
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == ["audit.sqlite"], left  # the log (its entry names the run); no report


def test_a_real_sigint_is_one_line_and_exit_130():
    """SIGINT while ``cardiolens`` loads its libraries (seconds on a cold start)."""
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    code = "from cardiolens.__main__ import run; print('ready', flush=True); run()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--version"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.2)  # inside run(): the imports take seconds
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert err == "cardiolens: interrupted\n"
