"""The pipeline's list of stages: a new stage plugs in without editing analyze_study."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

import cardiolens.report.schema as report_schema
from cardiolens import pipeline
from cardiolens.core.study import SeriesRole
from cardiolens.pipeline import STAGES, Stage, analyze_study, register_stage


def test_registry_declares_needs_and_sections():
    by_name = {stage.name: stage for stage in STAGES}
    assert list(by_name) == ["nuclear", "pet_flow", "calcium", "risk"]
    assert by_name["pet_flow"].roles == (SeriesRole.PET_DYNAMIC,)
    assert SeriesRole.SPECT_STRESS in by_name["nuclear"].roles
    assert SeriesRole.PET_REST in by_name["nuclear"].roles
    assert SeriesRole.UNKNOWN in by_name["nuclear"].roles  # unknown-role emission series
    assert by_name["calcium"].roles == (SeriesRole.CT_CALCIUM,)
    assert by_name["risk"].options == ("model_dir",) and by_name["risk"].roles == ()
    assert by_name["risk"].uses == ("nuclear", "calcium")


def _rest_mean(study, outputs, options):
    """A plug-in stage: the mean counts of the rest series and the nuclear SRS it read."""
    [series] = study.by_role(SeriesRole.SPECT_REST)
    outputs.flag("rest_counts", "plug-in stage ran", "info")
    return {
        "mean_counts": float(np.mean(series.volume.array)),
        "srs_seen": outputs.sections["nuclear"]["rest"]["summed_score"],
    }


def _never(study, outputs, options):
    raise AssertionError("a stage without its input must not run")


@pytest.fixture
def schema_with_plugin_section(monkeypatch):
    schema = report_schema.load_schema()
    schema["properties"]["rest_counts"] = {"type": ["object", "null"]}
    schema["properties"]["ct_model"] = {"type": ["object", "null"]}
    text = json.dumps(schema)
    monkeypatch.setattr(report_schema, "_schema_text", lambda: text)


def test_plugged_in_stage_runs_after_the_ones_it_uses(
    physionet_dicom_dir, tmp_path, schema_with_plugin_section
):
    source = sorted(physionet_dicom_dir.glob("*.dcm"))[0]
    stages = [
        *STAGES,
        Stage("rest_counts", "rest counts", _rest_mean, roles=(SeriesRole.SPECT_REST,)),
        Stage("ct_model", "a CT model", _never, modalities=("CT",)),
    ]
    report = analyze_study(source, tmp_path / "out", progress=False, stages=stages)
    data = report.data
    dataset = pydicom.dcmread(source)
    slope = float(getattr(dataset, "RescaleSlope", 1) or 1)
    pixels = dataset.pixel_array.astype(np.float64)
    assert data["rest_counts"]["mean_counts"] == pytest.approx(pixels.mean() * slope, rel=1e-6)
    assert data["rest_counts"]["srs_seen"] == data["nuclear"]["rest"]["summed_score"]
    assert data["ct_model"] is None
    assert data["study"]["analyses"] == ["nuclear", "rest_counts"]
    times = data["provenance"]["stage_times_s"]
    assert "rest_counts" in times and "risk" not in times  # risk has no model_dir
    assert any(f["stage"] == "rest_counts" for f in data["quality_flags"])


def test_register_stage_inserts_and_replaces(monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", list(STAGES))
    extra = Stage("learned_lv", "learned LV", _never, roles=(SeriesRole.SPECT_STRESS,))
    register_stage(extra, before="risk")
    names = ["nuclear", "pet_flow", "calcium", "learned_lv", "risk"]
    assert [s.name for s in pipeline.STAGES] == names
    register_stage(Stage("learned_lv", "learned LV v2", _never))
    assert [s.step for s in pipeline.STAGES][3] == "learned LV v2"
    with pytest.raises(ValueError, match="no stage named"):
        register_stage(Stage("x", "x", _never), before="nope")
