"""Physics-based digital phantoms (SPECT/PET, CT) with exact ground truth."""

from cardiolens.phantom.lv_geometry import LVGeometry, design_lv, lv_axes
from cardiolens.phantom.motion import WallMotionSpec, parse_wall_motion, volume_curve_ml
from cardiolens.phantom.perfusion import (
    DefectSpec,
    DefectType,
    balanced_three_vessel,
    parse_defect_spec,
    parse_defect_specs,
)
from cardiolens.phantom.pet import (
    OneTissueFit,
    PetTimeActivityCurves,
    PetTracer,
    fit_one_tissue,
    k1_from_mbf,
    mbf_from_k1,
    simulate_pet_dynamic,
)
from cardiolens.phantom.realism import RealismMetrics, physionet_realism, realism_metrics
from cardiolens.phantom.spect import (
    SpectGroundTruth,
    SpectImages,
    SpectPhantom,
    simulate_spect,
    simulate_spect_study,
)
from cardiolens.phantom.spect_physics import AcquisitionProtocol

__all__ = [
    "AcquisitionProtocol",
    "DefectSpec",
    "DefectType",
    "LVGeometry",
    "OneTissueFit",
    "PetTimeActivityCurves",
    "PetTracer",
    "RealismMetrics",
    "SpectGroundTruth",
    "SpectImages",
    "SpectPhantom",
    "WallMotionSpec",
    "balanced_three_vessel",
    "design_lv",
    "fit_one_tissue",
    "k1_from_mbf",
    "lv_axes",
    "mbf_from_k1",
    "parse_defect_spec",
    "parse_defect_specs",
    "parse_wall_motion",
    "physionet_realism",
    "realism_metrics",
    "simulate_pet_dynamic",
    "simulate_spect",
    "simulate_spect_study",
    "volume_curve_ml",
]

from cardiolens.phantom.ct_lesions import LesionSpec, parse_lesion_spec  # noqa: E402
from cardiolens.phantom.ct_simulate import CTPhantom, simulate_ct, simulate_ct_study  # noqa: E402

__all__ += ["CTPhantom", "LesionSpec", "parse_lesion_spec", "simulate_ct", "simulate_ct_study"]
