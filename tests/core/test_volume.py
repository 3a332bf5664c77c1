import numpy as np
import pytest
import SimpleITK as sitk

from cardiolens.core import GeometryError, ParameterError, Series, SeriesRole, Volume


def _oblique_volume() -> Volume:
    theta = np.deg2rad(30)
    direction = np.array(
        [[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]]
    )
    rng = np.random.default_rng(0)
    return Volume(
        rng.normal(size=(4, 5, 6)).astype(np.float32),
        spacing_mm=(3.0, 0.5, 0.7),
        origin_mm=(-10.0, 20.0, 5.0),
        direction=direction,
        modality="CT",
    )


def test_sitk_round_trip_is_lossless():
    vol = _oblique_volume()
    back = Volume.from_sitk(vol.to_sitk(), modality="CT")
    assert back.same_geometry(vol)
    np.testing.assert_array_equal(back.array, vol.array)


def test_index_to_physical_matches_sitk():
    vol = _oblique_volume()
    image = vol.to_sitk()
    idx_zyx = np.array([[1, 2, 3], [3, 4, 5]])
    expected = [
        image.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in i[::-1]))
        for i in idx_zyx
    ]
    np.testing.assert_allclose(vol.index_to_physical(idx_zyx), expected, atol=1e-9)
    np.testing.assert_allclose(vol.physical_to_index(expected), idx_zyx, atol=1e-9)


def test_resample_spacing_keeps_extent_and_mean():
    vol = Volume(np.ones((10, 20, 20), np.float32), spacing_mm=(2.0, 1.0, 1.0))
    out = vol.resample_spacing((1.0, 2.0, 2.0))
    assert out.shape == (20, 10, 10)
    assert out.array[2:-2, 2:-2, 2:-2].mean() == pytest.approx(1.0)


def test_bad_geometry_is_rejected():
    with pytest.raises(GeometryError, match="3D"):
        Volume(np.zeros((3, 3)))
    with pytest.raises(GeometryError, match="spacing"):
        Volume(np.zeros((3, 3, 3)), spacing_mm=(0, 1, 1))
    with pytest.raises(ParameterError, match="interpolation"):
        Volume(np.zeros((3, 3, 3))).resample_spacing((1, 1, 1), interpolation="cubic")


def test_role_parse_suggests_the_right_name():
    with pytest.raises(ParameterError, match="spect_stress"):
        SeriesRole.parse("spect_stres")
    series = Series("1.2.3", "NM", Volume(np.zeros((2, 2, 2))))
    series.set_role("spect_rest")
    assert series.role is SeriesRole.SPECT_REST and series.role_source == "override"
    assert series.summary()["shape"] == [2, 2, 2]
    assert isinstance(sitk.Image, type)
