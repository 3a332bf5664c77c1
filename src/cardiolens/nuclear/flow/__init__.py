"""PET myocardial blood flow, flow reserve and coronary flow capacity (dynamic Rb-82, N-13 ammonia, O-15 water)."""

from cardiolens.nuclear.flow.analysis import (
    DynamicScan,
    FlowScanResult,
    FlowStudyResult,
    analyze_flow,
    analyze_flow_scan,
    detect_tracer,
    scan_from_frames,
    scan_from_series,
)
from cardiolens.nuclear.flow.kinetics import FlowTracer, KineticFit, fit_tac, tracer_settings
from cardiolens.nuclear.flow.reserve import cfc_category, flow_reserve

__all__ = [
    "DynamicScan",
    "FlowScanResult",
    "FlowStudyResult",
    "FlowTracer",
    "KineticFit",
    "analyze_flow",
    "analyze_flow_scan",
    "cfc_category",
    "detect_tracer",
    "fit_tac",
    "flow_reserve",
    "scan_from_frames",
    "scan_from_series",
    "tracer_settings",
]
