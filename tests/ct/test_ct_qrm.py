"""Real scan: QRM cardiac calcification phantom (Canon Aquilion ONE, 120 kV, 3 mm) in --phantom mode."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cardiolens.ct import load_calcium_ct, score_calcium
from cardiolens.ct.qrm import PHANTOM_PARTIAL_VOLUME_LIMIT

#: Insert centres (LPS mm) in this scan (three rows of 5/3/1 mm inserts 12.3 mm apart; the
#: row's density is told by its HU), and true masses from the QRM
#: insert table (QRM_inserts.png): (density mg HA/cm^3, diameter mm) -> mg.
INSERTS = {
    (800, 5): ((-40.7, 1.5, 600.8), 78.5),
    (800, 3): ((-28.2, 1.7, 600.8), 17.0),
    (800, 1): ((-15.9, 1.5, 600.9), 0.6),
    (400, 5): ((13.7, -32.5, 599.9), 39.3),
    (400, 3): ((8.3, -21.5, 600.4), 8.5),
    (400, 1): ((2.9, -10.5, 600.6), 0.3),
    (200, 5): ((17.2, 31.4, 599.8), 19.6),
    (200, 3): ((10.6, 21.0, 600.9), 4.2),
    (200, 1): ((4.0, 10.6, 601.0), 0.2),
}


@pytest.fixture(scope="module")
def qrm_result(qrm_ct_dir):
    return score_calcium(load_calcium_ct(qrm_ct_dir), phantom=True)


def _match(result):
    found = {}
    for lesion in result.lesions:
        key, (centre, _) = min(
            INSERTS.items(),
            key=lambda kv: np.linalg.norm(np.subtract(kv[1][0], lesion.centroid_mm)),
        )
        assert np.linalg.norm(np.subtract(centre, lesion.centroid_mm)) < 5.0, (
            f"unexpected object at {lesion.centroid_mm}"
        )
        assert key not in found, f"two objects on insert {key}"
        found[key] = lesion
    return found


def test_qrm_inserts_integrated_mass_within_20_percent(qrm_result, qrm_reference_dir, capsys):
    found = _match(qrm_result)
    rows = ["insert           true mg  integrated mg  (err %)  mass score mg  Agatston"]
    for key, (_, true_mass) in INSERTS.items():
        lesion = found.get(key)
        if lesion is None:
            rows.append(
                f"{key[0]:>3} mg/cc {key[1]} mm  {true_mass:6.1f}   not found ({PHANTOM_PARTIAL_VOLUME_LIMIT[:40]}...)"
            )
            continue
        error = 100 * (lesion.mass_integrated_mg / true_mass - 1)
        rows.append(
            f"{key[0]:>3} mg/cc {key[1]} mm  {true_mass:6.1f}  {lesion.mass_integrated_mg:8.2f}  ({error:+6.1f})"
            f"  {lesion.mass_mg:8.2f}  {lesion.agatston:8.1f}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    for key in [(400, 5), (400, 3), (800, 5), (800, 3)]:
        true_mass = INSERTS[key][1]
        assert found[key].mass_integrated_mg == pytest.approx(true_mass, rel=0.20), key
        assert found[key].mass_mg > 0  # the standard mass score is reported beside it


def test_qrm_total_agatston_within_15_percent_of_published(qrm_result, qrm_reference_dir):
    with open(qrm_reference_dir / "reference_Large_rep1.csv") as handle:
        rows = list(csv.DictReader(handle))
    published = sum(
        float(r[f"calculated_agat_{size}"]) for r in rows for size in ("large", "medium", "small")
    )
    assert qrm_result.agatston == pytest.approx(published, rel=0.15)
    factor = float(rows[0]["mass_cal_factor"])
    assert qrm_result.mass_calibration.source == "calibration_rods"
    assert qrm_result.mass_calibration.factor_mg_per_hu_mm3 == pytest.approx(factor, rel=0.03)


def test_qrm_rods_spine_and_noise_are_not_scored(qrm_result):
    found = _match(qrm_result)  # every scored object is an insert
    assert qrm_result.excluded["calibration_rod"] == 1
    assert qrm_result.excluded["bone_or_edge"] >= 1 and qrm_result.excluded["noise"] > 0
    assert all(lesion.artery is None for lesion in qrm_result.lesions)
    assert {(800, 5), (800, 3), (400, 5), (400, 3), (200, 5), (200, 3)} <= set(found)
    # 1 mm inserts: reported as found or not, with the partial-volume limit stated
    assert PHANTOM_PARTIAL_VOLUME_LIMIT in qrm_result.quality_flags
    assert qrm_result.eat is None and qrm_result.to_json()["eat"] is None


def test_real_scan_padding_is_found_and_patient_mode_refuses_the_phantom(qrm_ct_dir):
    """The Canon scan pads outside its 249 mm circle with -2048 HU; in patient mode its
    cylindrical heart insert is refused in one line, never scored as a heart."""
    from cardiolens.core.errors import AnalysisError
    from cardiolens.ct.fov import field_of_view

    volume = load_calcium_ct(qrm_ct_dir)
    fov = field_of_view(np.asarray(volume.array), volume.spacing_mm[1:])
    assert fov.padding_hu == -2048.0 and 2 * fov.radius_mm == pytest.approx(249.0, abs=2.0)
    with pytest.raises(AnalysisError, match="cylinder, not a heart.*need --phantom"):
        score_calcium(volume)
