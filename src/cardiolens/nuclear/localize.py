"""Automatic localisation of the left ventricle in transaxial SPECT or PET.

The LV myocardium is a hot, roughly spherical shell around a cold cavity; the
liver, gut and stomach wall are solid or flat. A matched filter for a hollow
sphere (mean count in a shell of radius R minus mean count in its core) over a
few radii peaks at the centre of the LV and stays low on solid organs, a
formulation of the "hollow ellipsoid" search of automatic LV detection in QGS
(Germano G et al., J Nucl Med 1995;36:2138-2147). Hot gut loops can still give
strong responses, so the 40 strongest local maxima are checked in order and the
first that is both contrasted (cold core) and enclosed (hot in most directions,
as a ventricle open only at its base) is the LV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.signal import fftconvolve

from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume

__all__ = ["LvLocation", "localize_lv", "working_volume"]

logger = logging.getLogger(__name__)

#: Grid on which localisation and sampling work (isotropic, mm).
WORKING_SPACING_MM = 4.0


@dataclass(frozen=True)
class LvLocation:
    """Where the LV was found.

    Attributes
    ----------
    center_lps
        LPS position (x, y, z) in mm of the centre of the LV cavity.
    mid_wall_radius_mm
        Radius of the best-matching hollow sphere (mid-myocardium), mm.
    shell_contrast
        (shell mean - core mean) / shell mean of the best match, 0..1.
    shell_mean_counts
        Mean count in the matched shell (image units): the LV's count level.
    score
        Matched-filter response at the centre, in image count units.
    truncated
        True when the matched shell reaches outside the field of view.
    """

    center_lps: tuple[float, float, float]
    mid_wall_radius_mm: float
    shell_contrast: float
    shell_mean_counts: float
    score: float
    truncated: bool


def working_volume(volume: Volume) -> Volume:
    """The volume on an isotropic 4 mm grid (unchanged when already there), as float32."""
    if np.allclose(volume.spacing_mm, WORKING_SPACING_MM, atol=0.05):
        return volume.with_array(np.asarray(volume.array, dtype=np.float32))
    return volume.resample_spacing((WORKING_SPACING_MM,) * 3)


def field_of_view(array: np.ndarray) -> np.ndarray:
    """Boolean mask of the reconstructed field of view (voxels not identically zero).

    Cameras with a small field of view (CZT, multi-pinhole) reconstruct a
    cylinder and set the outside to 0; elsewhere the whole grid is returned.
    The mask is eroded by 12 mm because such reconstructions have hot rims.
    """
    inside = ndi.binary_fill_holes(array != 0)
    if inside.mean() > 0.97:
        return np.ones(array.shape, dtype=bool)
    return ndi.binary_erosion(inside, iterations=int(round(12.0 / WORKING_SPACING_MM)))


def _ball(radius_vox: float) -> np.ndarray:
    n = int(np.ceil(radius_vox))
    z, y, x = np.mgrid[-n : n + 1, -n : n + 1, -n : n + 1]
    return np.sqrt(x * x + y * y + z * z)


_CANDIDATES = 40
#: Candidates enclosed in fewer directions than this are not LVs at all.
_MIN_PARTIAL_ENCLOSURE = 0.3
#: A partly enclosed candidate must respond this many times more than anything elsewhere...
_DOMINANCE = 3.0
#: ... where elsewhere means farther than this from it, mm.
_SEPARATE_MM = 40.0
_DIRECTIONS = 64


def _distance_mm(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """Distance between two voxel indices of the working grid, mm."""
    return float(np.linalg.norm(np.subtract(a, b))) * WORKING_SPACING_MM


def _fibonacci_directions(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (z, y, x) on the sphere."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    return np.column_stack(
        [np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)]
    )


def _enclosure(image: np.ndarray, index: tuple[int, int, int], radius_vox: float) -> float:
    """Fraction of directions in which the shell around ``index`` is hot.

    Along each of 64 directions the maximum between 0.5 and 1.6 radii is
    compared with the core value and the hottest directions (90th percentile):
    hot when it exceeds the core by half their difference.
    """
    directions = _fibonacci_directions(_DIRECTIONS)
    steps = np.linspace(0.5, 1.6, 12) * radius_vox
    points = (
        np.asarray(index, dtype=float)[None, None, :]
        + steps[None, :, None] * directions[:, None, :]
    )
    values = ndi.map_coordinates(image, points.reshape(-1, 3).T, order=1, mode="constant")
    peak = values.reshape(_DIRECTIONS, len(steps)).max(axis=1)
    core = float(ndi.map_coordinates(image, np.asarray(index, dtype=float)[:, None], order=1)[0])
    level = float(np.percentile(peak, 90))
    if level <= core:
        return 0.0
    return float(np.mean(peak >= core + 0.5 * (level - core)))


def localize_lv(
    volume: Volume,
    *,
    mid_wall_radii_mm: tuple[float, ...] = (12.0, 16.0, 21.0, 26.0, 31.0),
    wall_half_thickness_mm: float = 5.0,
    min_shell_contrast: float = 0.3,
    min_enclosure: float = 0.55,
) -> LvLocation:
    """Find the centre of the LV cavity in a SPECT/PET volume.

    Parameters
    ----------
    volume
        Transaxial emission image (counts), any grid; worked on at 4 mm.
    mid_wall_radii_mm
        Mid-myocardial radii tried, mm (small to dilated hearts).
    wall_half_thickness_mm
        Half thickness of the matched shell, mm.
    min_shell_contrast
        Smallest (shell - core) / shell accepted as an LV, 0..1.
    min_enclosure
        Smallest fraction of directions from the centre in which the shell is hot
        (the LV is closed except at the valve plane; the edge of a solid organ is
        hot on one side only).

    Returns
    -------
    LvLocation

    Raises
    ------
    AnalysisError
        When nothing in the image looks like a hollow hot shell.
    """
    work = working_volume(volume)
    raw = np.clip(np.nan_to_num(work.array.astype(np.float32)), 0, None)
    fov = field_of_view(raw)
    image = ndi.gaussian_filter(raw, 1.0) * fov
    if not np.any(image > 0):
        raise AnalysisError("no counts in the image: the LV cannot be located")
    # hot artefacts (saturated rims, bladder) should not dominate: cap at a robust maximum
    cap = float(np.percentile(image[image > 0], 99.8))
    image = np.minimum(image, cap)
    spacing = WORKING_SPACING_MM
    responses, contrasts, shell_means = [], [], []
    for radius in mid_wall_radii_mm:
        dist = _ball((radius + wall_half_thickness_mm) / spacing) * spacing
        shell = (np.abs(dist - radius) <= wall_half_thickness_mm).astype(np.float32)
        core = (dist <= max(radius - 2 * wall_half_thickness_mm, spacing)).astype(np.float32)
        # means over the part of each kernel inside the field of view
        shell_cover = fftconvolve(fov.astype(np.float32), shell / shell.sum(), mode="same")
        core_cover = fftconvolve(fov.astype(np.float32), core / core.sum(), mode="same")
        shell_mean = fftconvolve(image, shell / shell.sum(), mode="same") / np.maximum(
            shell_cover, 1e-3
        )
        core_mean = fftconvolve(image, core / core.sum(), mode="same") / np.maximum(
            core_cover, 1e-3
        )
        # a solid organ gives shell ~ core; the LV gives shell >> core
        response = shell_mean - core_mean
        response[(shell_cover < 0.9) | (core_cover < 0.99)] = -np.inf
        responses.append(response)
        contrasts.append(1.0 - core_mean / np.maximum(shell_mean, 1e-9))
        shell_means.append(shell_mean)
    stack = np.stack(responses)
    best_radius = np.argmax(stack, axis=0)
    best = np.max(stack, axis=0)
    peaks = (best == ndi.maximum_filter(best, size=5)) & np.isfinite(best) & (best > 0)
    order = np.argsort(best[peaks])[::-1][:_CANDIDATES]
    candidates = np.argwhere(peaks)[order]
    scored = []
    for candidate in candidates:
        index = tuple(int(i) for i in candidate)
        k = int(best_radius[index])
        radius = mid_wall_radii_mm[k]
        contrast = float(contrasts[k][index])
        enclosure = _enclosure(image, index, radius / spacing)
        logger.debug(
            "candidate %s: radius %.0f mm, response %.4g, contrast %.2f, enclosure %.2f",
            index,
            radius,
            best[index],
            contrast,
            enclosure,
        )
        if contrast >= min_shell_contrast and enclosure >= _MIN_PARTIAL_ENCLOSURE:
            value = float(best[index])
            scored.append(
                (value * contrast * enclosure, value, index, radius, contrast, enclosure, k)
            )
    if not scored:
        raise AnalysisError(
            "no LV-like structure found (no hot shell around a cold cavity among the "
            f"{len(candidates)} best candidates): check that this is a myocardial perfusion image"
        )
    scored.sort(key=lambda item: item[0], reverse=True)
    found = None
    for rank, (product, value, index, radius, contrast, enclosure, k) in enumerate(scored):
        far = [s for s in scored if _distance_mm(s[2], index) > _SEPARATE_MM]
        # a stronger structure elsewhere that was not confirmed makes the choice ambiguous
        if any(
            _distance_mm(s[2], index) > _SEPARATE_MM and s[0] >= 1.5 * product
            for s in scored[:rank]
        ):
            break
        # an LV with large defects is enclosed in few directions: accept it only when it
        # stands out from every structure elsewhere in the image
        dominant = contrast >= 0.5 and value >= _DOMINANCE * max((s[1] for s in far), default=0.0)
        if enclosure >= min_enclosure or dominant:
            found = (value, index, radius, contrast, float(shell_means[k][index]))
            break
    if found is None:
        raise AnalysisError(
            "no LV-like structure found with confidence: no hot shell is both enclosed in "
            f"{min_enclosure:.0%} of directions (or clearly stronger than everything else) and "
            "free of a stronger rival elsewhere; check the image or set the LV by hand"
        )
    score, index, radius, contrast, shell_level = found
    reach = int(np.ceil((radius + 3 * wall_half_thickness_mm) / spacing))
    lo = np.asarray(index) - reach
    hi = np.asarray(index) + reach
    truncated = bool(np.any(lo < 0) or np.any(hi >= np.asarray(raw.shape)))
    if not truncated:
        sl = tuple(slice(a, b + 1) for a, b in zip(lo, hi, strict=True))
        truncated = bool(not fov[sl].all())
    center = work.index_to_physical(np.asarray(index, dtype=float))[0]
    logger.info(
        "LV centre at %s mm LPS, mid-wall radius %.0f mm, shell contrast %.2f",
        np.round(center, 1),
        radius,
        contrast,
    )
    return LvLocation(
        center_lps=tuple(float(c) for c in center),
        mid_wall_radius_mm=float(radius),
        shell_contrast=contrast,
        shell_mean_counts=shell_level,
        score=score,
        truncated=truncated,
    )
