"""Automatic localisation of the left ventricle in transaxial SPECT or PET.

The LV myocardium is a hot, roughly spherical shell around a cold cavity; the
liver, gut and stomach wall are solid or flat. A matched filter for a hollow
sphere (mean count in a shell of radius R minus mean count in its core) over a
few radii peaks at the centre of the LV and stays low on solid organs, a
formulation of the "hollow ellipsoid" search of automatic LV detection in QGS
(Germano G et al., J Nucl Med 1995;36:2138-2147). Brightness alone does not
decide: a hot liver dome or bowel loop gives a strong response at its edge, and
an LV with defects in two territories is dim. The 60 strongest local maxima are
therefore scored on shape: the fraction of directions from the centre that meet
a thin wall (a count peak that falls off again within 20 mm, not the rising
edge of a solid organ), which is high for the LV, walled everywhere but at its
base and still walled, at reduced counts, in a perfusion defect. Among the
candidates with a cold cavity and a walled centre the strongest wins, and the
anatomical prior that the LV lies above the diaphragm prefers a comparable
candidate at least 40 mm higher (stomach and bowel lie below the heart).
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


_CANDIDATES = 60
_DIRECTIONS = 128
#: A direction meets a myocardial wall when its count peak (between 0.4 and 1.6 radii from the
#: centre) rises at least this fraction of the way from the cavity to the hottest walls
#: (a wall in a severe perfusion defect keeps about a third of its normal contrast) ...
_WALL_MIN_HEIGHT = 0.2
#: ... and the counts fall by this fraction of the peak within :data:`_WALL_FALL_MM` beyond it:
#: a wall of 8-15 mm blurred by 12-15 mm SPECT resolution, not the edge of a solid organ.
_WALL_MIN_DROP = 0.35
_WALL_FALL_MM = 20.0
#: Mid-wall radius (mm) of the largest usual LV at its true voxel size (dilated hearts).
_USUAL_MAX_RADIUS_MM = 36.0
#: Median distance (mm) from the centre to the wall peaks up to which the fall distance is
#: :data:`_WALL_FALL_MM` (normal to dilated LVs at their true voxel size).
_USUAL_PEAK_MM = 30.0
#: When no candidate reaches the wall fraction asked for, candidates this much below it are
#: accepted (the walls of a large, severe defect are too dim to count).
_RELAXED_WALL_MARGIN = 0.1
#: Candidates this far apart (mm) are different structures.
_SEPARATE_MM = 40.0
#: A rival hollow structure scoring at least this fraction of the best, and at least
#: :data:`_SEPARATE_MM` higher, is taken as the LV instead (the LV lies above the diaphragm).
_SUPERIOR_RIVAL_FRACTION = 0.25
#: ... and whose mid-wall radius is within this factor of the best's.
_RIVAL_RADIUS_RATIO = 1.6


@dataclass(frozen=True)
class _Candidate:
    """A local maximum of the hollow-sphere response and its shape measures."""

    index: tuple[int, int, int]
    radius_mm: float
    response: float
    contrast: float
    wall_fraction: float
    height_mm: float

    @property
    def score(self) -> float:
        """Response weighted by how completely a thin wall surrounds the centre."""
        return self.response * self.wall_fraction**2


def _fibonacci_directions(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (z, y, x) on the sphere."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    return np.column_stack(
        [np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)]
    )


def _scale(radius_mm: float) -> float:
    """How much larger than the largest usual LV (mid-wall radius 36 mm) a shell is, >= 1.

    An LV whose voxels are declared larger than they are looks larger, with thicker
    walls and wider blur in mm: the wall measures of such shells grow with it.
    """
    return max(1.0, radius_mm / _USUAL_MAX_RADIUS_MM)


def _fall_mm(peak_mm: np.ndarray) -> float:
    """Distance (mm) beyond a wall peak within which its counts must fall.

    20 mm for walls peaking up to :data:`_USUAL_PEAK_MM` from the centre; in
    proportion for larger-looking LVs (their walls and blur look wider in mm too).
    """
    return _WALL_FALL_MM * max(1.0, float(np.median(peak_mm)) / _USUAL_PEAK_MM)


def _wall_fraction(image: np.ndarray, index: tuple[int, int, int], radius_mm: float) -> float:
    """Fraction of directions from ``index`` that meet a thin hot wall (0..1).

    Along each of 128 directions the count profile is searched for its peak
    between 0.4 and 1.6 radii. The direction has a wall when the peak rises
    :data:`_WALL_MIN_HEIGHT` of the way from the cavity (median within 0.3
    radii) to the hottest walls (90th percentile of the peaks) and the profile
    falls by :data:`_WALL_MIN_DROP` of the peak within :func:`_fall_mm` outside it. The LV
    is walled in every direction but its base, with reduced but present walls
    in perfusion defects; the dome of the liver or a hot bowel loop seen from
    outside has a rising edge that does not fall again, and only on one side.
    """
    directions = _fibonacci_directions(_DIRECTIONS)
    reach_mm = 1.6 * radius_mm * (1.0 + _WALL_FALL_MM / _USUAL_PEAK_MM)
    r_mm = np.arange(0.0, max(reach_mm, 1.6 * radius_mm + _WALL_FALL_MM) + 1e-6, 2.0)
    points = (
        np.asarray(index, dtype=float)[None, None, :]
        + (r_mm / WORKING_SPACING_MM)[None, :, None] * directions[:, None, :]
    )
    profiles = ndi.map_coordinates(image, points.reshape(-1, 3).T, order=1, mode="constant")
    profiles = profiles.reshape(_DIRECTIONS, len(r_mm))
    cavity = float(np.median(profiles[:, r_mm <= 0.3 * radius_mm]))
    window = (r_mm >= 0.4 * radius_mm) & (r_mm <= 1.6 * radius_mm)
    peak_index = np.argmax(np.where(window[None, :], profiles, -np.inf), axis=1)
    peak = profiles[np.arange(_DIRECTIONS), peak_index]
    top = float(np.percentile(peak, 90))
    if top <= cavity:
        return 0.0
    peak_mm = r_mm[peak_index][:, None]
    fall_mm = _fall_mm(peak_mm)
    beyond = (r_mm[None, :] > peak_mm) & (r_mm[None, :] <= peak_mm + fall_mm)
    fallen = peak - np.where(beyond, profiles, np.inf).min(axis=1)
    wall = (peak >= cavity + _WALL_MIN_HEIGHT * (top - cavity)) & (fallen >= _WALL_MIN_DROP * peak)
    return float(np.mean(wall))


def _choose(candidates: list[_Candidate]) -> _Candidate:
    """The LV among valid hollow-shell candidates: best score, then the anatomical prior.

    Below the diaphragm the stomach wall and bowel loops can look like hollow
    shells; a candidate is replaced by a comparable one (score at least
    :data:`_SUPERIOR_RIVAL_FRACTION` of it, radius within a factor
    :data:`_RIVAL_RADIUS_RATIO`) lying at least 40 mm higher. A much larger
    shell above is the whole heart or the mediastinum around the LV, not a rival.
    """
    best = max(candidates, key=lambda c: c.score)
    higher = [
        c
        for c in candidates
        if c.score >= _SUPERIOR_RIVAL_FRACTION * best.score
        and c.height_mm - best.height_mm >= _SEPARATE_MM
        and max(c.radius_mm, best.radius_mm)
        <= _RIVAL_RADIUS_RATIO * min(c.radius_mm, best.radius_mm)
    ]
    return max(higher, key=lambda c: c.score) if higher else best


def localize_lv(
    volume: Volume,
    *,
    mid_wall_radii_mm: tuple[float, ...] = (12.0, 16.0, 21.0, 26.0, 31.0, 36.0, 42.0, 48.0),
    wall_half_thickness_mm: float = 5.0,
    min_shell_contrast: float = 0.3,
    min_wall_fraction: float = 0.7,
) -> LvLocation:
    """Find the centre of the LV cavity in a SPECT/PET volume.

    Parameters
    ----------
    volume
        Transaxial emission image (counts), any grid; worked on at 4 mm.
    mid_wall_radii_mm
        Mid-myocardial radii tried, mm (small to dilated hearts, and hearts whose
        voxel size is declared larger than it is).
    wall_half_thickness_mm
        Half thickness of the matched shell, mm, for radii up to 36 mm; larger
        shells scale it with their radius (:func:`_scale`), so that the filter
        matches a heart whatever the declared voxel size makes it look like.
    min_shell_contrast
        Smallest (shell - core) / shell accepted as an LV, 0..1.
    min_wall_fraction
        Smallest fraction of directions from the centre that meet a thin hot wall
        (the LV is closed except at the valve plane, about 10-20 % of directions;
        the edge of a solid organ is hot on one side only and does not fall off).

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
        half = wall_half_thickness_mm * _scale(radius)
        dist = _ball((radius + half) / spacing) * spacing
        shell = (np.abs(dist - radius) <= half).astype(np.float32)
        core = (dist <= max(radius - 2 * half, spacing)).astype(np.float32)
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
    peak_indices = np.argwhere(peaks)[order]
    heights = work.index_to_physical(peak_indices.astype(float))[:, 2] if len(order) else []
    shells = []
    for candidate, height in zip(peak_indices, heights, strict=True):
        index = tuple(int(i) for i in candidate)
        k = int(best_radius[index])
        found = _Candidate(
            index=index,
            radius_mm=mid_wall_radii_mm[k],
            response=float(best[index]),
            contrast=float(contrasts[k][index]),
            wall_fraction=_wall_fraction(image, index, mid_wall_radii_mm[k]),
            height_mm=float(height),
        )
        logger.debug("candidate %s", found)
        if found.contrast >= min_shell_contrast:
            shells.append(found)
    valid = [c for c in shells if c.wall_fraction >= min_wall_fraction]
    if not valid:
        # a large severe defect (or two) leaves part of the wall too dim to count as a wall:
        # accept less complete shells, the anatomical prior still preferring the higher one
        valid = [c for c in shells if c.wall_fraction >= min_wall_fraction - _RELAXED_WALL_MARGIN]
        if valid:
            logger.warning(
                "no candidate walled in %.0f%% of directions; accepting %.0f%% (large defect?)",
                100 * min_wall_fraction,
                100 * (min_wall_fraction - _RELAXED_WALL_MARGIN),
            )
    if not valid:
        raise AnalysisError(
            "no LV-like structure found (no hot shell around a cold cavity, walled in "
            f"{min_wall_fraction:.0%} of directions, among the {len(order)} best candidates): "
            "check that this is a myocardial perfusion image, or set the LV by hand"
        )
    chosen = _choose(valid)
    index, radius, contrast = chosen.index, chosen.radius_mm, chosen.contrast
    shell_level = float(shell_means[mid_wall_radii_mm.index(radius)][index])
    reach = int(np.ceil((radius + 3 * wall_half_thickness_mm * _scale(radius)) / spacing))
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
        score=chosen.response,
        truncated=truncated,
    )
