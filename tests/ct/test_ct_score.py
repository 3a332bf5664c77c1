"""Automatic scoring of simulated calcium CTs against their ground truth (issue 5, acceptance 2)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.ct import Artery, score_calcium
from cardiolens.ct.lesions import LABEL_ARTERY


def _truth_id(phantom, lesion) -> int:
    index = np.round(phantom.volume.physical_to_index(np.array(lesion.centroid_mm))[0]).astype(int)
    return int(phantom.lesion_labels[tuple(index)])


def test_noise_free_scores_equal_ground_truth(phantoms):
    for phantom in phantoms:
        result = score_calcium(phantom.clean)
        totals = phantom.truth["totals"]
        assert result.agatston == pytest.approx(totals["agatston"], rel=1e-9)
        assert result.volume_mm3 == pytest.approx(totals["volume_mm3"], rel=1e-9)
        assert result.mass_mg == pytest.approx(totals["mass_mg"], rel=1e-9)
        for artery in Artery:
            assert result.per_artery[artery].agatston == pytest.approx(
                phantom.truth["per_artery"][artery.value]["agatston"]
            )


def test_every_lesion_on_its_true_artery_and_no_distractor_counted(phantoms):
    for phantom in phantoms:
        result = score_calcium(phantom.clean)
        truth = {les["id"]: les["artery"] for les in phantom.truth["lesions"]}
        assert len(result.lesions) == len(truth)
        for lesion in result.lesions:
            assert lesion.artery.value == truth[_truth_id(phantom, lesion)]
        coronary = result.lesion_labels > 0
        assert not np.any(coronary & (phantom.distractor_labels > 0))
        assert result.excluded.get("intracardiac", 0) >= 1  # valve calcium seen and left out


def test_noisy_scores_within_5_percent_and_eat_within_10_percent(phantoms):
    """Per case on this subset; the 30-case sweep with its spread is in bench_calcium."""
    for phantom in phantoms:
        result = score_calcium(phantom.volume)
        totals = phantom.truth["totals"]
        assert result.agatston == pytest.approx(totals["agatston"], rel=0.05)
        assert result.volume_mm3 == pytest.approx(totals["volume_mm3"], rel=0.05)
        assert result.mass_mg == pytest.approx(totals["mass_mg"], rel=0.05)
        assert result.eat.volume_ml == pytest.approx(phantom.truth["eat"]["volume_ml"], rel=0.10)
        assert result.eat.mean_hu == pytest.approx(phantom.truth["eat"]["mean_hu"], abs=10.0)


def test_user_label_mask_rescoring_uses_the_artery_code(phantoms):
    phantom = phantoms[0]
    code = {artery: value for value, artery in LABEL_ARTERY.items()}
    labels = np.zeros(phantom.lesion_labels.shape, dtype=np.int16)
    for lesion in phantom.truth["lesions"]:
        labels[phantom.lesion_labels == lesion["id"]] = code[Artery(lesion["artery"])]
    result = score_calcium(phantom.clean, labels=phantom.clean.with_array(labels))
    for artery in Artery:
        expected = phantom.truth["per_artery"][artery.value]
        assert result.per_artery[artery].agatston == pytest.approx(expected["agatston"])
        assert result.per_artery[artery].mass_mg == pytest.approx(expected["mass_mg"])
    assert not any(lesion.needs_review for lesion in result.lesions)


def test_json_has_exactly_the_documented_fields(phantoms):
    data = score_calcium(phantoms[1].volume).to_json()
    assert set(data) == {
        "agatston",
        "volume_mm3",
        "mass_mg",
        "mass_calibration",
        "category",
        "cac_drs",
        "per_artery",
        "lesions",
        "eat",
        "quality_flags",
        "metal",
    }
    assert data["metal"] == []
    assert all(data["per_artery"][a]["stent"] is False for a in data["per_artery"])
    assert set(data["mass_calibration"]) == {"factor_mg_per_hu_mm3", "source"}
    assert set(data["per_artery"]) == {"LM", "LAD", "LCx", "RCA"}
    assert set(data["eat"]) == {"volume_ml", "mean_hu"}
    assert set(data["lesions"][0]) == {
        "artery",
        "agatston",
        "volume_mm3",
        "mass_mg",
        "mass_integrated_mg",
        "peak_hu",
        "centroid_mm",
        "needs_review",
    }


def test_1p5_mm_slices_with_and_without_overlap_agree_with_3_mm():
    """The increment/3 mm rule keeps one patient's score across reconstructions (thickness
    normalisation would double the overlapping one)."""
    from cardiolens.phantom import LesionSpec, simulate_ct

    specs = [
        LesionSpec("LAD", 80, 500, 0.4),
        LesionSpec("RCA", 40, 350, 0.3),
        LesionSpec("LCx", 120, 650, 0.5),
    ]
    scores = {}
    for thickness, increment, slices in ((3.0, 3.0, 60), (1.5, 1.5, 120), (3.0, 1.5, 120)):
        phantom = simulate_ct(
            seed=21,
            noise_hu=0.0,
            lesions=specs,
            slice_thickness_mm=thickness,
            slice_increment_mm=increment,
            matrix=(slices, 384, 384),
            pixel_mm=0.7,
            distractors=False,
        )
        scores[(thickness, increment)] = score_calcium(phantom.clean).agatston
        assert scores[(thickness, increment)] == pytest.approx(phantom.truth["totals"]["agatston"])
    assert scores[(1.5, 1.5)] == pytest.approx(scores[(3.0, 3.0)], rel=0.05)
    assert scores[(3.0, 1.5)] == pytest.approx(scores[(3.0, 3.0)], rel=0.05)


def test_no_fat_in_the_sac_gives_null_mean_not_nan():
    import json

    import numpy as np

    from cardiolens.core import Volume
    from cardiolens.ct.eat import PericardiumModel, epicardial_fat

    sac = np.zeros((4, 8, 8), bool)
    sac[1:3, 2:6, 2:6] = True
    model = PericardiumModel(np.zeros(3), np.ones((48, 96)), np.ones((48, 96)), sac)
    eat = epicardial_fat(Volume(np.full((4, 8, 8), 40.0)), model)
    assert eat.volume_ml == 0.0 and eat.mean_hu is None
    assert json.loads(json.dumps(eat.to_json(), allow_nan=False)) == {
        "volume_ml": 0.0,
        "mean_hu": None,
    }
