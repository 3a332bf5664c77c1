"""The normal database is chosen from the header; a mismatch is flagged; the shipped databases."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.volume import Volume
from cardiolens.io import load_studies
from cardiolens.nuclear import analyze_perfusion
from cardiolens.nuclear.normal_build import RECIPES, draw_normal
from cardiolens.nuclear.protocols import (
    StudyProtocol,
    choose_normal_database,
    clinical_sex,
    read_protocol,
)
from cardiolens.nuclear.validation import osem_cases
from cardiolens.phantom.spect import simulate_spect_study

from .helpers import ellipsoid_lv


def _nm(**metadata) -> Volume:
    return Volume(np.zeros((4, 4, 4), np.float32), modality="NM", metadata=metadata)


def test_physionet_ge_czt_header_reads_as_czt_without_attenuation_correction(
    physionet_dicom_dir,
):
    series = load_studies(physionet_dicom_dir)[0].series[0]
    protocol = read_protocol(series.volume)
    assert protocol.camera_kind == "czt"  # GE 'UFC' (Discovery NM 530c), multi-pinhole
    assert protocol.attenuation_corrected is False
    choice = choose_normal_database(protocol, sex="female")
    assert choice.key == "czt_hr_nac"
    assert [m for m in choice.mismatches if "female" not in m] == []


@pytest.mark.parametrize(
    ("corrected", "key"), [(["ATTN"], "anger_lehr_ac"), ([], "anger_lehr_nac")]
)
def test_anger_header_picks_the_matching_reconstruction(corrected, key):
    header = {
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.20",
        "manufacturer": "SIEMENS NM",
        "model": "Symbia Intevo",
        "corrected_image": corrected,
        "radiopharmaceutical": "Tc-99m tetrofosmin",
    }
    choice = choose_normal_database(read_protocol(_nm(**header)))
    assert choice.key == key and not choice.mismatches
    assert choice.database.provenance["attenuation_corrected"] is bool(corrected)


def test_no_header_and_pet_get_the_closest_database_and_a_flag():
    unknown = choose_normal_database(read_protocol(_nm()))
    assert unknown.key == "anger_lehr_ac"
    assert any("camera unknown" in m for m in unknown.mismatches)
    pet = read_protocol(
        Volume(np.zeros((4, 4, 4)), modality="PT", metadata={"radiopharmaceutical": "Rb-82"})
    )
    assert pet.camera_kind == "pet" and pet.tracer == "rb82"
    choice = choose_normal_database(pet)
    assert choice.database.provenance["attenuation_corrected"]
    assert any("no PET normal database" in m for m in choice.mismatches)
    thallium = choose_normal_database(
        StudyProtocol("NM", "anger", True, "tl201", radiopharmaceutical="Tl-201")
    )
    assert any("tl201" in m for m in thallium.mismatches)


def test_mismatch_is_a_quality_flag_and_the_report_says_which_database():
    volume, _, _ = ellipsoid_lv()
    result = analyze_perfusion(stress=volume.with_array(volume.array, modality="NM"))
    out = result.to_json()
    assert out["normal_database"]["stress"]["key"] == "anger_lehr_ac"
    assert out["normal_database"]["rest"] is None
    assert out["protocol"]["stress"]["camera_kind"] is None
    codes = [f["code"] for f in out["stress"]["quality_flags"]]
    assert "normal_database_mismatch" in codes


def test_phantom_dicom_non_corrected_study_uses_the_non_corrected_database(tmp_path):
    simulate_spect_study(
        tmp_path, seed=71, method="image_space", include_rest=False, attenuation_correction=False
    )
    (series,) = [s for s in load_studies(tmp_path)[0].series if not s.n_gates]
    result = analyze_perfusion(stress=series)
    assert result.databases["stress"].key == "anger_lehr_nac"
    assert result.protocols["stress"].camera_kind == "anger"


def test_clinical_sex_values():
    assert clinical_sex({"sex": "F"}) == "female"
    assert clinical_sex({"sex": "Male"}) == "male"
    assert clinical_sex({"sex": 1}) is None and clinical_sex(None) is None


def test_shipped_databases_are_osem_phantoms_of_both_sexes_apart_from_validation_seeds():
    validation = {c.seed for c in osem_cases(24, 5000)} | {c.seed for c in osem_cases(12, 9000)}
    for recipe in RECIPES:
        draws = [draw_normal(recipe, i) for i in range(30)]
        assert not validation & {d["seed"] for d in draws}
        assert {d["sex"] for d in draws} == {"female", "male"}
    for key in ("anger_lehr_ac", "anger_lehr_nac"):
        choice = choose_normal_database(StudyProtocol("NM", "anger", key.endswith("_ac"), "tc99m"))
        db = choice.database
        assert choice.key == key and db.n_studies >= 30
        assert db.provenance["source"].startswith("cardiolens.phantom.simulate_spect, method osem")
        assert all("left_out" not in s for s in db.provenance["studies"])
    # non-corrected normals show the inferior (diaphragmatic) attenuation of real NAC limits
    ac = choose_normal_database(StudyProtocol("NM", "anger", True, "tc99m")).database
    nac = choose_normal_database(StudyProtocol("NM", "anger", False, "tc99m")).database
    inferior = [3, 9]  # AHA segments 4 and 10 (basal and mid inferior), 0-based
    assert np.all(nac.segment_mean_pct[inferior] < ac.segment_mean_pct[inferior] - 5)
