"""Role inference from header text and acquisition parameters, and overrides."""

import json

import numpy as np
import pytest

from cardiolens.cli import main
from cardiolens.core import Series, SeriesRole, Volume
from cardiolens.io import infer_role
from cardiolens.io.roles import stress_or_rest


def _series(modality, **metadata):
    return Series("1.2.3", modality, Volume(np.zeros((2, 2, 2))), metadata=metadata)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ReconRest-1", "rest"),
        ("STRESS TOMO", "stress"),
        ("Str AC", "stress"),
        ("RST IRNC", "rest"),
        ("Regadenoson SPECT", "stress"),
        ("Stress/Rest summary", None),
        ("Series 2", None),
    ],
)
def test_stress_or_rest_keywords(text, expected):
    assert stress_or_rest({"series_description": text})[0] == expected


def test_nm_role_uses_image_id_when_description_is_silent():
    guess = infer_role(_series("NM", series_description="Series 2", image_id="ReconStress"))
    assert guess.role == SeriesRole.SPECT_STRESS and guess.confidence == 0.9


def test_study_description_gives_lower_confidence():
    guess = infer_role(_series("NM", study_description="MPI REST"))
    assert guess.role == SeriesRole.SPECT_REST and guess.confidence == 0.5


@pytest.mark.parametrize(
    ("metadata", "role", "source"),
    [
        ({"series_description": "CTAC 5mm"}, SeriesRole.CT_ATTENUATION, "header"),
        ({"protocol_name": "Calcium Score (Volume)"}, SeriesRole.CT_CALCIUM, "header"),
        ({"contrast_agent": "Iomeprol"}, SeriesRole.CCTA, "header"),
        ({"kvp": 120.0, "slice_thickness_mm": 3.0}, SeriesRole.CT_CALCIUM, "inferred"),
        ({"kvp": 100.0, "slice_thickness_mm": 0.5}, SeriesRole.CCTA, "inferred"),
        ({"ctdi_vol_mgy": 1.2}, SeriesRole.CT_ATTENUATION, "inferred"),
        ({}, SeriesRole.UNKNOWN, "inferred"),
    ],
)
def test_ct_roles(metadata, role, source):
    guess = infer_role(_series("CT", **metadata))
    assert (guess.role, guess.source) == (role, source)


def test_role_override_from_cli(physionet_dicom_dir, capsys):
    path = sorted(physionet_dicom_dir.glob("*.dcm"))[0]
    with pytest.raises(SystemExit):
        main(["info", str(path), "--json"])
    uid = json.loads(capsys.readouterr().out)[0]["series_uid"]
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(path), "--json", "--role", f"{uid}=spect_stress"])
    assert exit_info.value.code == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert (row["role"], row["role_source"], row["role_confidence"]) == (
        "spect_stress",
        "override",
        1.0,
    )


def test_bad_role_override_is_a_one_line_error(physionet_dicom_dir, capsys):
    path = sorted(physionet_dicom_dir.glob("*.dcm"))[0]
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(path), "--role", "1.2.3=spect_stres"])
    assert exit_info.value.code == 2
    assert "Did you mean 'spect_stress'?" in capsys.readouterr().err
