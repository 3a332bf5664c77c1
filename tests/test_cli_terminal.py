"""Terminal behaviour of the CLI: -h, help at full width off a terminal, one-line usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
