"""Vendor-like CT DICOM (Siemens, GE, Philips, Canon): headers, storage and padding read back."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from cardiolens.core.volume import Volume
from cardiolens.ct.fov import field_of_view
from cardiolens.ct.score import load_calcium_ct
from cardiolens.phantom.ct_scanner import apply_field_of_view
from cardiolens.phantom.ct_vendor import VENDOR_PROFILES, stored_hu, write_vendor_ct


def _padded_ct(padding_hu: float) -> tuple[Volume, float]:
    """6 noisy slices of 96 x 96 at 0.4 mm: air, tissue, calcium, metal; a 32 mm circle."""
    rng = np.random.default_rng(3)
    hu = np.round(rng.normal(-1000.0, 40.0, (6, 96, 96))).astype(np.float32)
    hu[:, 20:76, 20:76] = np.round(rng.normal(40.0, 20.0, (6, 56, 56)))
    hu[:, 40:44, 40:44] = 600.0  # calcium
    hu[:, 50:52, 50:52] = 9000.0  # metal
    y = x = (np.arange(96) - 47.5) * 0.4
    apply_field_of_view([hu], y, x, 32.0, padding_hu)
    volume = Volume(hu, spacing_mm=(2.5, 0.4, 0.4), modality="CT")
    return volume, 32.0


@pytest.mark.parametrize("vendor", sorted(VENDOR_PROFILES))
def test_vendor_storage_round_trips_to_hu_and_padding_is_found(vendor, tmp_path):
    profile = VENDOR_PROFILES[vendor]
    volume, diameter = _padded_ct(profile.padding_hu)
    paths = write_vendor_ct(
        tmp_path,
        volume,
        vendor,
        patient_id="V",
        study_uid="2.25.77",
        slice_thickness_mm=2.5,
        reconstruction_diameter_mm=diameter,
    )
    ds = pydicom.dcmread(paths[0])
    assert ds.Manufacturer == profile.manufacturer
    assert ds.ManufacturerModelName == profile.model
    assert ds.ConvolutionKernel == profile.kernel
    assert float(ds.ReconstructionDiameter) == diameter
    assert float(ds.RescaleIntercept) == profile.intercept_hu
    assert ds.PixelRepresentation == int(profile.signed)
    assert float(ds.SliceThickness) == 2.5
    if profile.writes_padding_value:
        assert ds.PixelPaddingValue + profile.intercept_hu == profile.padding_hu
    else:
        assert "PixelPaddingValue" not in ds
    read = load_calcium_ct(tmp_path)
    assert read.metadata["manufacturer"] == profile.manufacturer
    np.testing.assert_array_equal(read.array, stored_hu(volume.array, profile))
    # Calcium is stored exactly; metal is clipped only where the storage ends (12 bits).
    assert np.all(read.array[:, 40:44, 40:44] == 600.0)
    assert read.array[:, 50:52, 50:52].min() == min(9000.0, profile.hu_range[1])
    fov = field_of_view(np.asarray(read.array), read.spacing_mm[1:])
    assert fov.padding_hu == profile.padding_hu
    assert 2 * fov.radius_mm == pytest.approx(diameter, rel=0.05)


def test_unknown_vendor_is_refused():
    from cardiolens.core.errors import ParameterError

    volume, _ = _padded_ct(-2048.0)
    with pytest.raises(ParameterError, match="unknown vendor 'hitachi'"):
        write_vendor_ct("/nonexistent", volume, "hitachi", patient_id="V", study_uid="2.25.1")
