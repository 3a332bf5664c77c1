"""Calcium scores against phantom ground truth: the *oracle* score.

The oracle applies the scoring definitions (:func:`~cardiolens.ct.lesions.measure_lesions`:
130 HU threshold, per-slice lesions, peak-HU weights; Agatston et al. 1990, McCollough et
al. 2007) to the true lesions of the noisy image (:func:`true_lesion_region`): the calcium
voxels inside each lesion's signal support (its partial-volume extent grown by the
scanner blur's reach, ``CTPhantom.lesion_labels``), together with every calcium voxel 3D
connected to them (the lesion as the definitions group it: noise on a lesion's edge is
scored with it, as a reader's click on the lesion scores it). Calcium that noise alone
makes elsewhere is not a lesion, even a few pixels from one. An automatic score equal to
the oracle adds no error of its own (heart finding, candidate exclusion, lesion grouping,
noise-spike rejection); the oracle's spread over noise realisations is the definitions'
own response to noise. ``benchmarks/bench_calcium.py`` runs both.
"""

from __future__ import annotations

import numpy as np

from cardiolens.core.volume import Volume
from cardiolens.ct.agatston import AgatstonConvention
from cardiolens.ct.calibration import default_mass_calibration
from cardiolens.ct.lesions import calcium_components, measure_lesions

__all__ = ["ORACLE_SCORES", "compare_with_truth", "oracle_scores", "true_lesion_region"]

#: The scores the oracle reports per lesion.
ORACLE_SCORES = ("agatston", "volume_mm3", "mass_mg")


def true_lesion_region(volume: Volume, lesion_labels: np.ndarray) -> np.ndarray:
    """The true lesions as the definitions see them on ``volume`` (see module), ``(z, y, x)``.

    ``lesion_labels`` is the lesions' signal support (value = lesion id). A 3D calcium
    group (:func:`~cardiolens.ct.lesions.calcium_components`) that meets a support joins,
    outside the supports, the lesion it meets most.
    """
    _, groups, n = calcium_components(volume, AgatstonConvention())
    labels = np.asarray(lesion_labels)
    region = labels.astype(np.int32, copy=True)
    touching = (groups > 0) & (labels > 0)
    if n == 0 or not touching.any():
        return region
    pairs = np.stack([groups[touching], labels[touching]])
    owners, counts = np.unique(pairs, axis=1, return_counts=True)
    owner = np.zeros(n + 1, dtype=np.int32)
    # The most-met lesion of each group (pairs sorted by count: the largest is written last).
    order = np.argsort(counts, kind="stable")
    owner[owners[0, order]] = owners[1, order]
    outside = (labels == 0) & (groups > 0)
    region[outside] = owner[groups[outside]]
    return region


def oracle_scores(volume: Volume, neighbourhood: np.ndarray) -> dict[int, dict[str, float]]:
    """Per lesion id: Agatston, volume (mm^3) and mass (mg) of ``volume`` inside ``neighbourhood``.

    The mass uses the documented default calibration for the volume's tube voltage
    (``metadata["kvp"]``, 120 kV when absent).
    """
    calibration = default_mass_calibration(volume.metadata.get("kvp"))
    return {
        m.lesion_id: {key: float(getattr(m, key)) for key in ORACLE_SCORES}
        for m in measure_lesions(volume, neighbourhood, calibration=calibration)
    }


def compare_with_truth(phantom, result) -> dict[str, object]:
    """How an automatic result (:class:`~cardiolens.ct.result.CalciumResult`) of a
    simulated CT (:class:`~cardiolens.phantom.ct_simulate.CTPhantom`) meets its truth.

    A true lesion is scored right when its automatic Agatston equals the oracle's, or
    when it is 0 and so is the lesion's noise-free truth (noise alone lifted it over the
    threshold; the noise-spike rule of :mod:`cardiolens.ct.noise` may leave it out).

    Returns
    -------
    dict
        ``heart_error_mm`` (found centre to the true heart centre), ``distractor_counted``
        and ``metal_counted`` (coronary voxels on valve, aortic, bone or metal truth),
        ``stented`` (arteries reported with a stent), per artery without a stent the
        automatic and ``oracle`` Agatston (:func:`oracle_scores`), ``equals_oracle``
        (every true lesion scored right, none invented), ``noise_only_left_out`` (true
        lesions of noise-free Agatston 0 left out), ``lesions`` (true lesions with calcium
        on arteries without a stent), ``lesions_on_true_artery`` (of them, scored only on
        their true artery) and ``false_lesions`` (automatic lesions on no true lesion).
    """
    from cardiolens.ct.lesions import Artery

    truth = {les["id"]: les for les in phantom.truth["lesions"]}
    coronary = result.lesion_labels > 0
    grown = true_lesion_region(phantom.volume, phantom.lesion_labels)
    oracle = oracle_scores(phantom.volume, grown)
    stented = {a.value for a in result.stented_arteries}
    on_true: dict[int, set[str]] = {i: set() for i in truth}
    auto_lesion = dict.fromkeys(truth, 0.0)
    false_lesions = 0
    for lesion in result.lesions:
        ids = np.unique(grown[result.lesion_labels == lesion.lesion_id])
        ids = ids[ids > 0]
        if ids.size == 0:
            false_lesions += 1
        for i in ids:
            on_true[int(i)].add(lesion.artery.value if lesion.artery else "none")
            auto_lesion[int(i)] += lesion.agatston / ids.size
    counted = [i for i in truth if truth[i]["artery"] not in stented and i in oracle]
    right = [
        np.isclose(auto_lesion[i], oracle[i]["agatston"], rtol=1e-9, atol=1e-9)
        or (auto_lesion[i] == 0.0 and truth[i]["agatston"] == 0.0)
        for i in counted
    ]
    noise_only = sum(auto_lesion[i] == 0.0 and truth[i]["agatston"] == 0.0 for i in counted)
    auto = {a.value: result.per_artery[a].agatston for a in Artery if a.value not in stented}
    expected = {
        a: sum(oracle[i]["agatston"] for i in counted if truth[i]["artery"] == a) for a in auto
    }
    metal = phantom.metal_labels if phantom.metal_labels is not None else np.zeros(1, bool)
    centre = np.asarray(result.heart_centre_mm, float)
    return {
        "heart_error_mm": float(np.linalg.norm(centre - phantom.truth["heart"]["centre_mm"])),
        "distractor_counted": bool(np.any(coronary & (phantom.distractor_labels > 0))),
        "metal_counted": bool(np.any(coronary & (metal > 0))),
        "stented": sorted(stented),
        "agatston": auto,
        "oracle_agatston": expected,
        "equals_oracle": all(right) and false_lesions == 0,
        "noise_only_left_out": int(noise_only),
        "lesions": len(counted) - int(noise_only),
        "lesions_on_true_artery": sum(
            on_true[i] == {truth[i]["artery"]} for i in counted if on_true[i]
        ),
        "false_lesions": false_lesions,
    }
