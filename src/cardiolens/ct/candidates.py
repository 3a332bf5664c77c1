"""Coronary calcium candidates: exclusion of non-coronary calcium by location, artery labels.

Rules (applied to each 3D calcium group of :func:`cardiolens.ct.lesions.calcium_components`):

1. **Outside the sac**: fewer than half of its voxels lie within 2 mm of the pericardial
   sac of :mod:`cardiolens.ct.eat`. Then it is **chest wall** (ribs, costal cartilage,
   sternum) when half of it lies outside the per-slice convex hull of the lungs, and
   **extrapericardial** (spine, descending and arch aorta, ascending aorta above the sac)
   otherwise -> excluded; unless it touches fat (>= 10 % of a 1-3 mm shell), lies within
   8 mm of the sac and within 1.15 times the sac's principal-axis ellipsoid: a fat groove
   narrower than the sac's 3 x 3-ray median filter (the great vessels above the heart lie
   beyond 1.3 times the ellipsoid).
2. **Intracardiac** (aortic valve, mitral annulus, aortic root): its centre lies more than
   5 mm inside the heart surface along its ray and less than 10 % of a 1-3 mm shell around
   it is fat -> excluded. Coronary arteries run in the epicardial fat, outside the
   myocardium, so their calcium touches fat. A group more than 2.5 mm inside, or without
   fat around it, is kept but flagged for review.
3. **Artery**: the heart frame is estimated from the sac (principal axes; long axis toward
   the patient's left-anterior-inferior, angles by the AHA convention of
   :mod:`cardiolens.core.aha`); each lesion goes to the nearest course of the coronary
   atlas :data:`CORONARY_ATLAS` (standard anatomy, right-dominant: LM from the left
   sinus to the bifurcation, LAD in the anterior interventricular groove, LCx in the left
   atrioventricular groove, RCA in the right atrioventricular groove and posterior
   interventricular groove). It is flagged for review when the nearest course is more
   than 10 mm away or a second artery is within 3 mm of the first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.body import in_plane_disk
from cardiolens.ct.eat import EAT_WINDOW_HU, PericardiumModel
from cardiolens.ct.lesions import Artery

__all__ = [
    "AV_GROOVE_L",
    "CORONARY_ATLAS",
    "CandidateDecision",
    "HeartFrame",
    "classify_candidates",
    "heart_frame",
    "locate_metal",
    "nearest_artery",
]

logger = logging.getLogger(__name__)

#: Long-axis position of the atrioventricular groove (-1 base .. +1 apex of the sac).
AV_GROOVE_L = -0.55

#: Coronary courses as (long-axis fraction, AHA angle deg) way-points, proximal to distal.
CORONARY_ATLAS: dict[Artery, tuple[tuple[float, float], ...]] = {
    Artery.LM: ((-0.80, 40.0), (-0.68, 22.0), (AV_GROOVE_L, 10.0)),
    Artery.LAD: ((AV_GROOVE_L, 10.0), (-0.2, 28.0), (0.3, 32.0), (0.85, 30.0)),
    Artery.LCX: (
        (AV_GROOVE_L, 0.0),
        (AV_GROOVE_L, -40.0),
        (AV_GROOVE_L, -90.0),
        (AV_GROOVE_L, -140.0),
    ),
    Artery.RCA: (
        (AV_GROOVE_L, 70.0),
        (AV_GROOVE_L, 110.0),
        (AV_GROOVE_L, 150.0),
        (-0.1, 160.0),
        (0.4, 160.0),
    ),
}

_SAC_MARGIN_MM = 2.0
_INSIDE_HEART_MM = 5.0
_REVIEW_INSIDE_MM = 2.5
_REVIEW_DISTANCE_MM = 10.0
_REVIEW_AMBIGUITY_MM = 3.0
_MIN_FAT_FRACTION = 0.1
_MAX_GROOVE_MM = 8.0
_MAX_GROOVE_ELLIPSOID = 1.15
_SHELL_MM = (1.0, 3.0)


def _fat_fraction(
    volume: Volume, components: np.ndarray, label: int, box: tuple[slice, ...]
) -> float:
    """Fraction of fat (-190 to -30 HU) in a 1-3 mm in-plane shell around a calcium group."""
    sy, sx = volume.spacing_mm[1:]
    pad = (1, int(np.ceil(_SHELL_MM[1] / sy)) + 1, int(np.ceil(_SHELL_MM[1] / sx)) + 1)
    crop = tuple(slice(max(b.start - p, 0), b.stop + p) for b, p in zip(box, pad, strict=True))
    group = components[crop] == label
    inner = ndi.binary_dilation(group, structure=in_plane_disk(_SHELL_MM[0], (sy, sx)))
    outer = ndi.binary_dilation(
        group, structure=np.repeat(in_plane_disk(_SHELL_MM[1], (sy, sx)), 3, axis=0)
    )
    shell = outer & ~inner & (components[crop] == 0)
    hu = np.asarray(volume.array[crop])[shell]
    return float(np.mean((hu >= EAT_WINDOW_HU[0]) & (hu <= EAT_WINDOW_HU[1]))) if hu.size else 0.0


@dataclass(frozen=True)
class HeartFrame:
    """An ellipsoid heart frame: centre (LPS mm), semi-axes and rows ``u`` (long), ``a``, ``v``."""

    centre_mm: np.ndarray
    axes_mm: np.ndarray
    frame: np.ndarray

    def surface_points(
        self, lax: np.ndarray, angle_deg: np.ndarray, scale: float = 1.0
    ) -> np.ndarray:
        """LPS points ``(n, 3)`` on the ellipsoid scaled by ``scale`` at ``(lax, angle)``."""
        lax = np.asarray(lax, float)
        phi = np.deg2rad(np.asarray(angle_deg, float))
        ring = np.sqrt(np.clip(1.0 - lax**2, 0.0, None))
        local = (
            np.stack([lax, ring * np.cos(phi), ring * np.sin(phi)], axis=-1) * self.axes_mm * scale
        )
        return self.centre_mm + local @ self.frame

    def normalised_radius(self, points_mm: np.ndarray) -> np.ndarray:
        """Ellipsoidal radius (1 on the surface) of LPS points ``(n, 3)``."""
        d = (np.atleast_2d(points_mm) - self.centre_mm) @ self.frame.T
        return np.linalg.norm(d / self.axes_mm, axis=1)


def heart_frame(volume: Volume, sac_mask: np.ndarray) -> HeartFrame:
    """Principal-axis ellipsoid of the pericardial sac with the AHA-oriented frame."""
    index = np.argwhere(sac_mask)[::7]
    points = volume.index_to_physical(index)
    centre = points.mean(axis=0)
    eigval, eigvec = np.linalg.eigh(np.cov((points - centre).T))
    u = eigvec[:, -1]
    if np.dot(u, [1.0, -1.0, -1.0]) < 0:
        u = -u
    ant = np.array([0.0, -1.0, 1.0])
    a = ant - np.dot(ant, u) * u
    a /= np.linalg.norm(a)
    v = np.cross(u, a)
    if v[0] > 0:
        v = -v
    frame = np.stack([u, a, v])
    variance = np.einsum("ij,jk,ik->i", frame, np.cov((points - centre).T), frame)
    return HeartFrame(centre, np.sqrt(5.0 * np.maximum(variance, 1e-6)), frame)


def _atlas_points(frame: HeartFrame, scale: float) -> dict[Artery, np.ndarray]:
    courses = {}
    for artery, course in CORONARY_ATLAS.items():
        lax = np.array([p[0] for p in course])
        angle = np.array([p[1] for p in course])
        t = np.linspace(0.0, 1.0, 200)
        knots = np.linspace(0.0, 1.0, lax.size)
        courses[artery] = frame.surface_points(
            np.interp(t, knots, lax), np.interp(t, knots, angle), scale
        )
    return courses


def nearest_artery(frame: HeartFrame, centroid_mm: np.ndarray) -> tuple[Artery, bool]:
    """The atlas artery nearest to an LPS point, and whether that is certain (rule 3)."""
    scale = float(frame.normalised_radius(centroid_mm)[0])
    distance = {
        artery: float(np.min(np.linalg.norm(course - centroid_mm, axis=1)))
        for artery, course in _atlas_points(frame, scale).items()
    }
    ranked = sorted(distance, key=distance.get)
    best, second = distance[ranked[0]], distance[ranked[1]]
    return ranked[0], best <= _REVIEW_DISTANCE_MM and second - best >= _REVIEW_AMBIGUITY_MM


def locate_metal(
    points_mm: np.ndarray, pericardium: PericardiumModel, frame: HeartFrame
) -> tuple[str, Artery | None]:
    """Where a metal object lies: ``coronary`` (a stent: in the sac or in a groove beside
    it, as rule 1 reads a groove vessel, and within 5 mm of the heart surface, with its
    artery), ``intracardiac`` (a lead or valve prosthesis: its centre deeper than 5 mm
    inside the heart) or ``extracardiac`` (sternal wires, clips: mostly farther out)."""
    r, _, sac = pericardium.radii(points_mm)
    near = (r <= sac + _MAX_GROOVE_MM) & (
        frame.normalised_radius(points_mm) <= _MAX_GROOVE_ELLIPSOID
    )
    if np.mean(near) < 0.5:
        return "extracardiac", None
    centroid = points_mm.mean(axis=0)
    r_c, surface_c, _ = pericardium.radii(centroid)
    if float(surface_c[0] - r_c[0]) > _INSIDE_HEART_MM:
        return "intracardiac", None
    return "coronary", nearest_artery(frame, centroid)[0]


def _outside_sac_reason(
    volume, components, label, box, pericardium, frame, points, in_cavity
) -> str | None:
    """Why a group outside the sac is not coronary, or ``None`` for a groove vessel."""
    if np.mean(in_cavity) < 0.5:
        return "chest_wall"
    r, _, sac = pericardium.radii(points)
    near = (r <= sac + _MAX_GROOVE_MM) & (frame.normalised_radius(points) <= _MAX_GROOVE_ELLIPSOID)
    if np.mean(near) < 0.5 or _fat_fraction(volume, components, label, box) < _MIN_FAT_FRACTION:
        return "extrapericardial"
    return None


@dataclass(frozen=True)
class CandidateDecision:
    """Outcome for every calcium group: coronary artery or exclusion reason.

    Attributes
    ----------
    arteries
        Group label -> artery, for the groups kept as coronary.
    needs_review
        Labels of kept groups whose classification or artery is uncertain.
    excluded
        Group label -> reason (``chest_wall``, ``extrapericardial`` or ``intracardiac``).
    """

    arteries: dict[int, Artery] = field(default_factory=dict)
    needs_review: frozenset[int] = frozenset()
    excluded: dict[int, str] = field(default_factory=dict)


def classify_candidates(
    volume: Volume,
    components: np.ndarray,
    pericardium: PericardiumModel,
    cavity: np.ndarray,
    *,
    frame: HeartFrame | None = None,
) -> CandidateDecision:
    """Keep coronary calcium, exclude the rest by location and assign arteries (see module).

    ``cavity`` is the thoracic cavity of :func:`cardiolens.ct.heart.thoracic_cavity`;
    ``frame`` the sac's :func:`heart_frame` (computed when ``None``).
    """
    frame = frame if frame is not None else heart_frame(volume, pericardium.sac_mask)
    arteries: dict[int, Artery] = {}
    review: set[int] = set()
    excluded: dict[int, str] = {}
    for label, box in enumerate(ndi.find_objects(components), start=1):
        if box is None:
            continue
        index = np.argwhere(components[box] == label) + [b.start for b in box]
        points = volume.index_to_physical(index)
        r, _, sac = pericardium.radii(points)
        if np.mean(r <= sac + _SAC_MARGIN_MM) < 0.5:
            reason = _outside_sac_reason(
                volume, components, label, box, pericardium, frame, points, cavity[tuple(index.T)]
            )
            if reason is not None:
                excluded[label] = reason
                continue
        centroid = points.mean(axis=0)
        r_c, surface_c, _ = pericardium.radii(centroid)
        inside = float(surface_c[0] - r_c[0])
        fat = _fat_fraction(volume, components, label, box)
        if inside > _INSIDE_HEART_MM and fat < _MIN_FAT_FRACTION:
            excluded[label] = "intracardiac"
            continue
        if inside > _REVIEW_INSIDE_MM or fat < _MIN_FAT_FRACTION:
            review.add(label)
        artery, certain = nearest_artery(frame, centroid)
        arteries[label] = artery
        if not certain:
            review.add(label)
    logger.info("candidates: %d coronary, %d excluded", len(arteries), len(excluded))
    return CandidateDecision(arteries, frozenset(review), excluded)
