"""Real PhysioNet myocardial perfusion SPECT: LV wall Dice against expert masks, end-to-end runs."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.io import load_studies, read_mask, read_volume
from cardiolens.nuclear import analyze_perfusion

PROVENANCE_KEYS = ("normal_database", "protocol", "orientation")

PATIENTS = ("patient001", "patient002", "patient003")


@pytest.mark.parametrize("patient", PATIENTS)
def test_lv_wall_dice_against_expert_mask(physionet_masks_dir, patient):
    image = read_volume(physionet_masks_dir / f"{patient}_0000.nii.gz")
    image = image.with_array(image.array, modality="NM")
    expert = read_mask(physionet_masks_dir / f"{patient}.nii.gz", image).array > 0
    result = analyze_perfusion(rest=image)
    ours = result.rest.myocardium_mask().array > 0
    dice = 2.0 * np.sum(ours & expert) / (ours.sum() + expert.sum())
    assert dice >= 0.75, f"{patient}: Dice {dice:.3f}"


def test_all_physionet_dicom_studies_run_end_to_end(physionet_dicom_dir):
    studies = load_studies(physionet_dicom_dir)
    assert len(studies) == 4
    for study in studies:
        (series,) = study.series
        result = analyze_perfusion(rest=series)
        rest = result.rest
        out = result.to_json()
        assert set(out) == {"rest", *PROVENANCE_KEYS}
        assert out["normal_database"]["rest"]["key"].endswith("_nac")  # GE CZT, no ATTN
        assert len(out["rest"]["segments"]) == 17
        assert out["rest"]["function"] is None  # these studies are not gated
        mask = rest.myocardium_mask()
        index = np.argwhere(mask.array > 0)
        myocardium_ml = len(index) * mask.voxel_volume_mm3 / 1000.0
        assert 60.0 <= myocardium_ml <= 350.0
        # the CZT camera centres the heart: the LV lies in the middle of the field of view
        centre = index.mean(axis=0)
        middle = (np.asarray(mask.shape) - 1) / 2.0
        assert np.all(np.abs(centre - middle) * 4.0 <= 60.0)
        assert 15.0 <= rest.surfaces.cavity_volume_ml <= 250.0
        # basal septal segments are low (membranous septum) but none is empty
        assert 25.0 <= np.min(rest.segments_pct) and np.max(rest.segments_pct) <= 100.0
