"""The mutation corpus through the commands a user runs: ``info`` and ``analyze``.

Exit 0, or exit 2 with exactly one stderr line ``cardiolens: error: FILE: problem``.
Study mutants that load are analysed only for CT (under a second each); NM mutants
go through ``analyze`` when ``info`` refuses them (a full SPECT analysis takes
tens of seconds; ``make fuzz`` runs more).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cardiolens.cli import main
from tests.fuzz.conftest import count, rng_for
from tests.fuzz.harness import FuzzTally
from tests.fuzz.mutations import mutate_bytes
from tests.fuzz.test_fuzz_images import DICOM_HEADER_BYTES


def _command(args, named, capsys):
    """Run the CLI in-process; raise what a user would see as a finding."""
    try:
        main(args)
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    stderr = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in stderr if line.startswith("cardiolens: error:")]
    if code == 0:
        return
    if code != 2 or len(errors) != 1 or str(named) not in errors[0]:
        raise AssertionError(f"exit {code}, stderr {stderr[-3:]}")
    from cardiolens.core.errors import InputError

    raise InputError(errors[0], named)  # a clean one-line error, counted as such


def _mutants(seed, folder, test, n):
    data = seed.read_bytes()
    for i in range(n):
        path = folder / f"{test}_{i}.dcm"
        path.write_bytes(mutate_bytes(data, rng_for(test, i), header_bytes=DICOM_HEADER_BYTES))
        yield path


def test_info_and_analyze_on_mutants(spect_seed, ct_seeds, tmp_path, capsys):
    info, analyze = FuzzTally(), FuzzTally()
    for seed, test in ((spect_seed, "cli_nm"), (ct_seeds[0], "cli_ct")):
        for i, path in enumerate(_mutants(seed, tmp_path, test, count(25))):
            before = info.errors
            info.check(lambda p=path: _command(["info", str(p)], p, capsys), path, path.name)
            if (test == "cli_ct" and i % 2 == 0) or info.errors > before or count(1) > 1:
                out = tmp_path / f"out_{path.stem}"
                args = ["analyze", str(path), "--out", str(out), "--quiet"]
                analyze.check(lambda a=args, p=path: _command(a, p, capsys), path, path.name)
    info.assert_clean(count(50))
    analyze.assert_clean(count(20))


@pytest.mark.parametrize(
    ("command", "crasher"), [("info", "badVR.dcm"), ("analyze", "transfer syntax UID")]
)
def test_one_stderr_line_in_a_real_process(command, crasher, spect_seed, tmp_path):
    """Outside pytest's log capture, the issue's two crashers give exactly one stderr line:
    pydicom's badVR.dcm (NumberOfFrames '1A') and a SPECT file whose transfer syntax UID
    has two bytes overwritten."""
    from pydicom.data import get_testdata_file

    if crasher == "badVR.dcm":
        path = get_testdata_file("badVR.dcm")
        expected = "NumberOfFrames (0028,0008) holds '1A', not a valid IS number"
    else:
        data = bytearray(spect_seed.read_bytes())
        at = data.index(b"1.2.840.10008.1.2")
        data[at + 5 : at + 7] = b"XY"
        path = tmp_path / "broken_syntax.dcm"
        path.write_bytes(bytes(data))
        expected = "is not a DICOM transfer syntax"
    args = [command, str(path)]
    if command == "analyze":
        args += ["--out", str(tmp_path / "out"), "--quiet"]
    result = subprocess.run(
        [sys.executable, "-m", "cardiolens", *args], capture_output=True, text=True, timeout=120
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"cardiolens: error: {path}:") and expected in lines[0]
