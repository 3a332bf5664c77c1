"""Staging folders a killed run left behind are cleaned on the next write, safely."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cardiolens.report.document import (
    STAGING_PREFIX,
    STALE_STAGING_S,
    load_report,
    publish_report,
    remove_stale_staging,
    write_report,
)
from tests.report.fakes import report_dict, reversible_lad_nuclear


def _staging(out: Path, name: str, *, age_s: float, extra: str | None = None) -> Path:
    """A staging folder as a killed run leaves it (report.json, a figure), ``age_s`` old."""
    folder = out / f"{STAGING_PREFIX}{name}"
    (folder / "figures").mkdir(parents=True)
    (folder / "report.json").write_text("{}")
    (folder / "figures" / "polar_stress.png").write_bytes(b"png")
    if extra:
        (folder / extra).write_text("not ours")
    moment = time.time() - age_s
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (moment, moment))
    return folder


def test_stale_staging_is_removed_on_the_next_write_fresh_and_foreign_ones_are_kept(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    stale = _staging(out, "killed", age_s=STALE_STAGING_S + 60)
    fresh = _staging(out, "running", age_s=5)  # a run writing now
    foreign = _staging(out, "notes", age_s=STALE_STAGING_S + 60, extra="notes.txt")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "report.json").write_text("keep")
    (out / f"{STAGING_PREFIX}link").symlink_to(target, target_is_directory=True)
    old = time.time() - STALE_STAGING_S - 60
    os.utime(target / "report.json", (old, old))
    write_report(out, report_dict(nuclear=reversible_lad_nuclear()), {})
    assert not stale.exists()
    assert fresh.is_dir() and foreign.is_dir() and (foreign / "notes.txt").is_file()
    assert (out / f"{STAGING_PREFIX}link").is_symlink()
    assert (target / "report.json").read_text() == "keep"  # a link is never followed
    assert load_report(out)["schema_version"]


def test_remove_stale_staging_reports_what_it_removed(tmp_path):
    stale = _staging(tmp_path, "a", age_s=STALE_STAGING_S + 1)
    assert remove_stale_staging(tmp_path) == [stale]
    assert remove_stale_staging(tmp_path) == []


def test_publish_moves_the_staged_report_and_drops_figures_it_lacks(tmp_path):
    out, staging = tmp_path / "out", tmp_path / "out" / f"{STAGING_PREFIX}x"
    data = report_dict(nuclear=reversible_lad_nuclear())
    write_report(out, data, {"old_figure": b"png"})
    write_report(staging, data, {"polar_stress": b"png"}, {"polar_stress": b"npz"})
    publish_report(staging, out)
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "polar_stress.npz",
        "polar_stress.png",
    ]
    assert not any(p.is_file() for p in staging.rglob("*"))
    assert load_report(out)["report_id"] == data["report_id"]
