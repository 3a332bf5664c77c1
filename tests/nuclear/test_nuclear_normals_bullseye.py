"""Normal database files and bull's-eye figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiolens.core.errors import InputError, ParameterError
from cardiolens.nuclear import (
    NormalDatabase,
    build_normal_database,
    default_normal_database,
    plot_bullseye,
)

from .helpers import uniform_polar_map


def test_build_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    maps = [uniform_polar_map(80.0 + rng.normal(0, 4, (18, 72))) for _ in range(5)]
    db = build_normal_database(maps, sex="female", camera="cam", tracer="Tc-99m", protocol="stress")
    stack = np.stack([m.values_pct for m in maps])
    assert np.allclose(db.mean_pct, stack.mean(axis=0))
    assert np.allclose(db.sd_pct, np.maximum(stack.std(axis=0, ddof=1), 5.0))
    path = db.save(tmp_path / "db.npz")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sex"] == "female" and meta["provenance"]["cardiolens_version"]
    loaded = NormalDatabase.load(path)
    assert np.allclose(loaded.mean_pct, db.mean_pct, atol=1e-4)
    assert loaded.grid == db.grid and loaded.n_studies == 5
    with pytest.raises(ParameterError, match="at least 3"):
        build_normal_database(maps[:2], sex="any", camera="c", tracer="t", protocol="p")
    with pytest.raises(InputError, match="sidecar"):
        NormalDatabase.load(tmp_path / "missing.npz")
    with pytest.raises(ParameterError, match=".npz"):
        db.save(tmp_path / "db.txt")


def test_default_database_is_shipped_with_provenance():
    db = default_normal_database()
    assert db.n_studies >= 30
    assert "build-default" in db.provenance["command"]
    assert db.provenance["attenuation_corrected"] and db.provenance["camera_kind"] == "anger"
    sexes = [s["sex"] for s in db.provenance["studies"]]
    assert sexes.count("female") >= 15 and sexes.count("male") >= 15
    assert np.all(db.sd_pct >= 5.0)
    assert 50.0 < float(np.median(db.mean_pct)) < 100.0


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_bullseye_figures(tmp_path, suffix):
    values = np.full((18, 72), 80.0)
    pm = uniform_polar_map(values)
    path = plot_bullseye(pm, tmp_path / f"stress{suffix}", title="Stress")
    assert path.exists() and path.stat().st_size > 1000
    segs = plot_bullseye(np.linspace(40, 100, 17), tmp_path / f"segments{suffix}", title="17")
    assert segs.exists()
    rev = plot_bullseye(
        pm.with_values(values - 70.0), tmp_path / f"rev{suffix}", vmin=-30, vmax=30, cmap="RdBu_r"
    )
    assert rev.exists()
    with pytest.raises(ParameterError):
        plot_bullseye(np.ones(5), tmp_path / f"bad{suffix}")
    with pytest.raises(ParameterError):
        plot_bullseye(pm, tmp_path / "bad.jpg")
