"""Nuclear cardiology quantification: LV reorientation, segmentation, polar maps, scores, function."""

from cardiolens.nuclear.analysis import (
    PerfusionImageResult,
    PerfusionStudyResult,
    analyze_image,
    analyze_perfusion,
    prepare_polar_map,
)
from cardiolens.nuclear.bullseye import plot_bullseye
from cardiolens.nuclear.function import (
    GatedFunction,
    PhaseAnalysis,
    WallThickness,
    fit_wall_thickness,
    gated_function,
    phase_analysis,
)
from cardiolens.nuclear.localize import LvLocation, localize_lv
from cardiolens.nuclear.normals import (
    NormalDatabase,
    build_normal_database,
    default_normal_database,
    simulate_normal_database,
)
from cardiolens.nuclear.polar import PolarMap, polar_map
from cardiolens.nuclear.quality import QualityFlag
from cardiolens.nuclear.reorient import LvAxes, View, estimate_lv_axes, reslice
from cardiolens.nuclear.scores import (
    PerfusionDeficit,
    ScoreThresholds,
    percent_myocardium,
    perfusion_deficit,
    segment_scores,
    summed_score,
)
from cardiolens.nuclear.segment import (
    LvSurfaces,
    RayGrid,
    fit_surfaces,
    myocardium_mask,
    refine_lv_axes,
)
from cardiolens.nuclear.segments import segment_values_pct

__all__ = [
    "GatedFunction",
    "LvAxes",
    "LvLocation",
    "LvSurfaces",
    "NormalDatabase",
    "PerfusionDeficit",
    "PerfusionImageResult",
    "PerfusionStudyResult",
    "PhaseAnalysis",
    "PolarMap",
    "QualityFlag",
    "RayGrid",
    "ScoreThresholds",
    "View",
    "WallThickness",
    "analyze_image",
    "analyze_perfusion",
    "build_normal_database",
    "default_normal_database",
    "estimate_lv_axes",
    "fit_surfaces",
    "fit_wall_thickness",
    "gated_function",
    "localize_lv",
    "myocardium_mask",
    "percent_myocardium",
    "perfusion_deficit",
    "phase_analysis",
    "plot_bullseye",
    "polar_map",
    "prepare_polar_map",
    "refine_lv_axes",
    "reslice",
    "segment_scores",
    "segment_values_pct",
    "simulate_normal_database",
    "summed_score",
]
