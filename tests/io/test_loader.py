"""Ingestion of the real reference data (issue 2 acceptance 2 and 3) and NIfTI masks."""

import numpy as np
import pytest
from scipy import ndimage

from cardiolens.core import GeometryError, InputError, SeriesRole
from cardiolens.io import load_studies, load_study, read_mask, read_volume, write_nifti


def _physionet_files(folder):
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 4
    return files


def test_every_physionet_file_reads_as_nm_50x70x70_at_4mm(physionet_dicom_dir):
    for path in _physionet_files(physionet_dicom_dir):
        series = load_study(path).series
        assert len(series) == 1
        nm = series[0]
        assert nm.modality == "NM"
        assert nm.volume.shape == (50, 70, 70)
        assert nm.volume.spacing_mm == pytest.approx((4.0, 4.0, 4.0))
        assert nm.role == SeriesRole.SPECT_REST and nm.role_source == "header"
        assert nm.volume.metadata["energy_windows"][0]["lower_kev"] == pytest.approx(126.45)
        # SpacingBetweenSlices is -4 mm: slices run towards feet (-z in LPS), not flipped
        assert nm.volume.direction[:, 2] == pytest.approx([0.0, 0.0, -1.0])


def test_physionet_folder_holds_four_studies(physionet_dicom_dir):
    studies = load_studies(physionet_dicom_dir)
    assert len(studies) == 4
    study = load_study(physionet_dicom_dir)
    assert any("4 studies" in w for w in study.warnings)


def test_physionet_geometry_matches_nifti_convention(physionet_dicom_dir, physionet_masks_dir):
    """The DICOM slice axis and origin follow the converted NIfTI files of the same database."""
    dicom = load_study(_physionet_files(physionet_dicom_dir)[0]).series[0].volume
    nifti = read_volume(physionet_masks_dir / "patient001_0000.nii.gz")
    np.testing.assert_allclose(dicom.direction, nifti.direction, atol=1e-6)
    assert dicom.spacing_mm == pytest.approx(nifti.spacing_mm)


@pytest.mark.parametrize("patient", ["patient001", "patient002", "patient003"])
def test_physionet_masks_align_with_their_images(physionet_masks_dir, patient):
    image = read_volume(physionet_masks_dir / f"{patient}_0000.nii.gz")
    mask = read_mask(physionet_masks_dir / f"{patient}.nii.gz", image)
    wall = mask.array > 0
    assert 1000 < wall.sum() < 20000
    inside, outside = image.array[wall].mean(), image.array[~wall].mean()
    assert inside > 5 * outside
    # and the wall is where the counts are: shifting the mask by 3 voxels loses counts
    shifted = np.roll(wall, 3, axis=2)
    assert image.array[shifted].mean() < 0.9 * inside


def test_qrm_ct_reads_as_one_series_of_47_slices(qrm_ct_dir):
    study = load_study(qrm_ct_dir)
    assert len(study.series) == 1 and not study.failed_files
    ct = study.series[0]
    assert ct.modality == "CT" and ct.volume.shape == (47, 512, 512)
    assert ct.volume.spacing_mm == pytest.approx((3.0, 0.488, 0.488))
    assert ct.volume.metadata["units"] == "HU" and ct.volume.metadata["kvp"] == 120.0
    assert ct.volume.metadata["slice_thickness_mm"] == 3.0
    assert ct.role == SeriesRole.CT_CALCIUM
    assert not ct.warnings


def test_qrm_ct_air_and_calcium_inserts(qrm_ct_dir):
    hu = load_study(qrm_ct_dir).series[0].volume.array
    # air: the largest region below -950 HU inside the field of view of a central slice
    central = hu[23]
    labels, n = ndimage.label((central > -1500) & (central < -950))
    sizes = ndimage.sum_labels(np.ones_like(central), labels, range(1, n + 1))
    air = central[labels == 1 + int(np.argmax(sizes))]
    assert air.size > 500 and np.median(air) == pytest.approx(-1000, abs=50)
    # the inserts (200, 400, 800 mg HA/cm^3; 5 and 3 mm visible) are compact objects > 130 HU
    # spanning at most 5 slices; the 800 mg/cm^3 ones peak above 1000 HU
    labels, n = ndimage.label(hu > 130)
    peaks = ndimage.maximum(hu, labels, range(1, n + 1))
    sizes = ndimage.sum_labels(np.ones_like(hu), labels, range(1, n + 1))
    extents = [s[0].stop - s[0].start for s in ndimage.find_objects(labels)]
    inserts = sorted(
        p
        for p, s, e in zip(peaks, sizes, extents, strict=True)
        if 100 <= s <= 2000 and e <= 5 and p > 300
    )
    assert 3 <= len(inserts) <= 9
    assert inserts[-1] > 1000 and inserts[-2] > 1000


def test_write_nifti_round_trip(tmp_path, physionet_dicom_dir):
    volume = load_study(_physionet_files(physionet_dicom_dir)[0]).series[0].volume
    back = read_volume(write_nifti(volume, tmp_path / "nm.nii.gz"))
    assert back.same_geometry(volume, tol_mm=1e-3)
    np.testing.assert_array_equal(back.array, volume.array)


def test_read_mask_of_wrong_shape_names_file_and_shapes(tmp_path, physionet_masks_dir):
    image = read_volume(physionet_masks_dir / "patient001_0000.nii.gz")
    small = image.with_array(np.zeros((49, 70, 70), np.uint8), spacing_mm=image.spacing_mm)
    path = write_nifti(small, tmp_path / "bad_mask.nii.gz")
    with pytest.raises(GeometryError) as error:
        read_mask(path, image)
    message = str(error.value)
    assert "bad_mask.nii.gz" in message and "(49, 70, 70)" in message and "(50, 70, 70)" in message


def test_read_mask_of_shifted_origin_is_refused(tmp_path, physionet_masks_dir):
    image = read_volume(physionet_masks_dir / "patient001_0000.nii.gz")
    moved = image.with_array(image.array, origin_mm=tuple(np.add(image.origin_mm, (0, 0, 4))))
    with pytest.raises(GeometryError, match="origin_mm"):
        read_mask(write_nifti(moved, tmp_path / "moved.nii"), image)


def test_4d_nifti_gives_gates(tmp_path):
    import SimpleITK as sitk

    array = np.random.default_rng(0).random((8, 5, 6, 7)).astype(np.float32)
    image = sitk.GetImageFromArray(array, isVector=False)
    image.SetSpacing((2.0, 2.0, 3.0, 1.0))
    sitk.WriteImage(image, str(tmp_path / "gated.nii.gz"))
    series = load_study(tmp_path / "gated.nii.gz").series[0]
    assert series.n_gates == 8 and series.volume.shape == (5, 6, 7)
    assert series.volume.spacing_mm == pytest.approx((3.0, 2.0, 2.0))
    np.testing.assert_allclose(series.volume.array, array.sum(axis=0), rtol=1e-5)


def test_read_volume_refuses_multi_series_input(tmp_path, physionet_dicom_dir):
    with pytest.raises(InputError, match="exactly one"):
        read_volume(_write_two_series(tmp_path))


def _write_two_series(tmp_path):
    from cardiolens.core import Volume
    from cardiolens.io import write_ct_series

    for description in ("Calcium score", "Coronary CTA"):
        write_ct_series(
            tmp_path / description,
            Volume(np.zeros((3, 4, 4)), (3.0, 0.5, 0.5), modality="CT"),
            patient_id="P",
            study_uid="1.2.826.0.1.3680043.8.498.9",
            series_description=description,
        )
    return tmp_path


def test_nrrd_round_trip(tmp_path, physionet_masks_dir):
    import SimpleITK as sitk

    image = read_volume(physionet_masks_dir / "patient002_0000.nii.gz")
    sitk.WriteImage(image.to_sitk(), str(tmp_path / "image.nrrd"))
    back = read_volume(tmp_path / "image.nrrd")
    assert back.same_geometry(image, tol_mm=1e-4)
    np.testing.assert_array_equal(back.array, image.array)


def test_nan_voxels_are_reported_and_left_out_of_the_value_range(tmp_path):
    import SimpleITK as sitk

    array = np.zeros((4, 6, 6), np.float32)
    array[0, 0, 0] = 5.0
    array[1, 2, 2:5] = np.nan
    sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / "nan.nrrd"))
    (series,) = load_study(tmp_path / "nan.nrrd").series
    assert series.warnings == ["3 voxel(s) are NaN or infinite (left out of the value range)"]
    assert series.value_range() == (0.0, 5.0)
