"""One answer per study: ``cardiolens nuclear`` and ``cardiolens analyze`` read the same series.

Also the series-selection rule itself and the SDS definition (per-segment, negatives as 0).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiolens.cli import app
from cardiolens.core.errors import ModalityError
from cardiolens.core.study import Series, SeriesRole, Study
from cardiolens.core.volume import Volume
from cardiolens.io import load_studies, write_ct_series
from cardiolens.nuclear.scores import summed_difference_score
from cardiolens.nuclear.series import nuclear_study, select_perfusion_inputs
from cardiolens.phantom.spect import simulate_spect_study
from cardiolens.pipeline import analyze_study

runner = CliRunner()


@pytest.fixture(scope="module")
def spect_and_ct_folder(tmp_path_factory):
    """A gated stress/rest SPECT (gated + summed series) and a CT under another Study UID."""
    folder = tmp_path_factory.mktemp("spect_ct")
    simulate_spect_study(folder, seed=31, method="image_space", include_rest=True)
    hu = np.full((20, 64, 64), -1000.0, dtype=np.float32)
    hu[:, 8:56, 8:56] = 40.0
    ct = Volume(hu, spacing_mm=(3.0, 0.8, 0.8), modality="CT")
    write_ct_series(folder / "ct", ct, patient_id="PHANTOM000031", study_uid="1.2.3.4.5.31")
    return folder


def test_nuclear_and_analyze_give_the_same_numbers(spect_and_ct_folder, tmp_path):
    cli = runner.invoke(app, ["nuclear", str(spect_and_ct_folder), "--json"])
    assert cli.exit_code == 0, cli.output
    ours = json.loads(cli.output[cli.output.index("{") :])
    report = analyze_study(spect_and_ct_folder, tmp_path / "out", progress=False).data["nuclear"]
    for state in ("stress", "rest"):
        for key in ("segments", "segment_scores", "summed_score", "tpd_pct", "function"):
            assert ours[state][key] == report[state][key], (state, key)
    assert ours["sds"] == report["sds"] >= 0
    assert ours["tid"] == report["tid"]


def test_the_summed_series_is_scored_and_the_gates_give_the_function(spect_and_ct_folder):
    study = nuclear_study(load_studies(spect_and_ct_folder))
    assert {s.modality for s in study.series} == {"NM"}
    inputs = select_perfusion_inputs(study)
    summed = {s.role: s for s in study.series if not s.n_gates}
    for state, role in (("stress", SeriesRole.SPECT_STRESS), ("rest", SeriesRole.SPECT_REST)):
        chosen = getattr(inputs, state)
        assert chosen.n_gates == 8
        assert np.array_equal(chosen.volume.array, summed[role].volume.array)
        assert "summed series" in inputs.rule[state]
    assert len(inputs.companions) == 2


def test_unknown_roles_go_to_stress_then_rest_and_ct_alone_is_refused():
    image = Volume(np.ones((8, 8, 8), dtype=np.float32), modality="NM")
    series = [Series(series_uid=f"s{i}", modality="NM", volume=image) for i in range(3)]
    study = Study(study_uid="1", patient_id="p", series=series)
    inputs = select_perfusion_inputs(study)
    assert (inputs.stress.series_uid, inputs.rest.series_uid) == ("s0", "s1")
    assert select_perfusion_inputs(study, "rest").stress is None
    ct = Study(study_uid="2", patient_id="p", series=[Series("c", "CT", image)])
    assert nuclear_study([ct, study]) is study
    with pytest.raises(ModalityError, match="no SPECT"):
        nuclear_study([ct])


def test_sds_sums_per_segment_differences_and_counts_negative_ones_as_zero():
    stress = np.zeros(17, dtype=int)
    rest = np.zeros(17, dtype=int)
    stress[[0, 6, 12]] = [3, 2, 2]  # LAD ischaemia: worse at stress
    rest[[0, 3]] = [1, 2]  # segment 1 partly fixed; segment 4 worse at rest (reverse)
    # per segment: 2 + 2 + 2, and segment 4 (0 - 2) contributes 0, not -2
    assert summed_difference_score(stress, rest) == 6
    assert stress.sum() - rest.sum() == 4
    assert summed_difference_score(rest, rest) == 0
    assert summed_difference_score(np.zeros(17, int), np.full(17, 4)) == 0
