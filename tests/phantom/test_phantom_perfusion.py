"""Defect specification, parsing and placement (extent within 1 percentage point)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.aha import aha_segment, territory_segments
from cardiolens.core.errors import ParameterError
from cardiolens.phantom.perfusion import DefectSpec, DefectType, parse_defect_spec, place_defect


def test_parse_full_spec():
    (spec,) = parse_defect_spec("LAD:extent=15:severity=60:type=fixed:subendocardial")
    assert spec == DefectSpec("LAD", 60.0, 15.0, DefectType.FIXED, True)
    assert spec.severity_at("rest") == 60.0
    assert spec.territory == "LAD"


def test_stress_rest_variants():
    reversible, mixed = (
        DefectSpec("RCA", 50, 10),
        DefectSpec("LCx", 80, 10, "mixed", rest_severity_pct=30),
    )
    assert (reversible.severity_at("stress"), reversible.severity_at("rest")) == (50, 0)
    assert (mixed.severity_at("stress"), mixed.severity_at("rest")) == (80, 30)
    assert DefectSpec("LCx", 80, 10, "mixed").severity_at("rest") == 40


def test_balanced_and_segments():
    specs = parse_defect_spec("balanced:severity=30")
    assert [s.location for s in specs] == ["LAD", "LCx", "RCA"]
    (seg,) = parse_defect_spec("S7+13:severity=40")
    assert seg.segments == (7, 13) and seg.extent_pct is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LAD:extent=-5:severity=60", "extent must be in (0, 100]"),
        ("LAD:extent=120:severity=60", "extent must be in (0, 100]"),
        ("LAD:extent=10:severity=160", "severity must be 0-100"),
        ("LDA:extent=10:severity=60", "Did you mean 'LAD'"),
        ("LAD:extnt=10:severity=60", "Did you mean 'extent'"),
        ("LAD:extent=10", "severity=<percent> is required"),
        ("LAD:extent=10:severity=60:type=fix", "Did you mean 'fixed'"),
        ("S19:severity=60", "AHA segments 1-17"),
    ],
)
def test_bad_defects_are_clear(text, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace("]", r"\]")):
        parse_defect_spec(text)


def _shell_samples(n=200_000, seed=0):
    """Uniform samples of a cylindrical LV wall in material coordinates (length 80 mm, cap 10 mm)."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(-10, 80, n)
    angle = rng.uniform(0, 360, n)
    depth = rng.uniform(0, 1, n)
    return h, angle, depth, np.ones(n)


@pytest.mark.parametrize(
    ("location", "extent"), [("LAD", 15.0), ("RCA", 7.5), ("LCx", 12.0), ("S7+13", 5.0)]
)
@pytest.mark.parametrize("subendocardial", [False, True])
def test_placement_meets_extent(location, extent, subendocardial):
    h, angle, depth, weight = _shell_samples()
    spec = DefectSpec(location, 60, extent, subendocardial=subendocardial)
    region = place_defect(
        spec,
        h0_mm=h,
        angle_deg=angle,
        depth=depth,
        weight=weight,
        cavity_length_mm=80.0,
        arc_radius_mm=25.0,
    )
    inside = region.contains(h, angle, depth)
    assert abs(100 * inside.mean() - extent) < 1.0
    assert abs(region.extent_pct - extent) < 1e-2
    # every defect point lies in the location's segments (territory assignment of Cerqueira 2002)
    assert set(np.unique(aha_segment(h[inside] / 80.0, angle[inside]))) <= set(spec.segments)
    if subendocardial:
        assert depth[inside].max() < 0.5


def test_extent_beyond_territory_is_refused():
    h, angle, depth, weight = _shell_samples()
    with pytest.raises(ParameterError, match="exceeds"):
        place_defect(
            DefectSpec("RCA", 60, 60.0), h0_mm=h, angle_deg=angle, depth=depth, weight=weight,
            cavity_length_mm=80.0, arc_radius_mm=25.0,
        )  # fmt: skip
    assert set(territory_segments("RCA")) == {3, 4, 9, 10, 15}
