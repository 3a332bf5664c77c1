"""report.html in real headless Chromium: every figure loads and is legible at 1280 px and
in print (A4 PDF of at most 6 pages); the context, provenance and sign-off blocks read well.

Screenshots and the PDF are kept under ``artefacts/report/`` (git-ignored).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from cardiolens.report import figures as fig
from cardiolens.report.document import load_figures, load_report, write_report
from cardiolens.report.html import FIGURE_TITLES
from cardiolens.report.html_context import inputs_digest
from cardiolens.report.narrative import build_narrative
from cardiolens.report.polar_figures import phase_png, polar_map_png
from tests.report.browser import (
    dump_dom,
    pdf_image_widths_mm,
    pdf_page_count,
    print_pdf,
    screenshot,
)
from tests.report.fakes import calcium_json, report_dict, reversible_lad_nuclear, risk_json

ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "report"
#: Least fraction of a figure's natural size (100 dpi) it is shown at: its smallest
#: text (6 pt) then reads at >= 3.6 pt in print and >= 6 px on screen.
MIN_SCALE = 0.6


def _polar_geometry() -> tuple[np.ndarray, np.ndarray]:
    """A polar-map grid like the nuclear stage's: 6 apical and 12 cylindrical rings, 72 angles."""
    fraction = np.concatenate([np.linspace(-1.0, -1 / 6, 6), np.linspace(0.04, 0.96, 12)])
    return np.repeat(fraction[:, None], 72, axis=1), np.arange(72) * 5.0


def _all_figures(data) -> dict[str, bytes]:
    """Every figure the page knows, drawn from synthetic arrays with the real functions."""
    fraction, angle = _polar_geometry()
    lad = ((angle[None, :] >= 300) | (angle[None, :] <= 90)) & (fraction < 0.7)
    stress = np.where(lad, 45.0, 85.0) + np.zeros_like(fraction)
    rest = np.full_like(fraction, 86.0)
    nuclear = data["nuclear"]
    rng = np.random.default_rng(0)
    image = rng.random((40, 40)) * 100
    mask = np.zeros((40, 40), bool)
    mask[12:28, 12:28] = True
    mask[16:24, 16:24] = False
    phase = 150.0 + 10.0 * rng.standard_normal(fraction.shape)
    weight = np.full(fraction.shape, 1.0 / fraction.size)
    function = {
        "cavity_volume_ml": [120, 110, 85, 62, 57, 66, 90, 112],
        "ed_gate": 0,
        "es_gate": 4,
        "edv_ml": 120.0,
        "esv_ml": 57.0,
        "lvef_pct": 52.5,
    }
    labels = np.zeros((6, 32, 32), int)
    labels[2:4, 10:14, 10:14] = 1
    labels[3, 20:22, 20:22] = 2
    figures = {
        "polar_stress": polar_map_png(stress, fraction, angle, title="Stress uptake"),
        "polar_rest": polar_map_png(rest, fraction, angle, title="Rest uptake"),
        "extent_stress": polar_map_png(
            stress, fraction, angle, title="Stress extent", black=stress < 60, note="17.0%"
        ),
        "extent_rest": polar_map_png(rest, fraction, angle, title="Rest extent", black=rest < 60),
        "reversibility_extent": polar_map_png(
            stress, fraction, angle, title="Reversibility extent", white=stress < 60
        ),
        "bullseye_stress": fig.bullseye_png(nuclear["stress"]["segments"], title="stress"),
        "bullseye_rest": fig.bullseye_png(nuclear["rest"]["segments"], title="rest"),
        "bullseye_reversibility": fig.bullseye_png(
            np.subtract(nuclear["rest"]["segments"], nuclear["stress"]["segments"]),
            title="reversibility",
            vmin=-30,
            vmax=30,
            cmap="RdBu_r",
        ),
        "slices": fig.paired_slices_png(
            [
                ("Stress SA", [(f"SA {k}", image, mask) for k in range(1, 7)]),
                ("Rest SA", [(f"SA {k}", image, mask) for k in range(1, 7)]),
                ("Stress VLA, HLA", [(f"LA {k}", image, mask) for k in range(1, 7)]),
                ("Rest VLA, HLA", [(f"LA {k}", image, mask) for k in range(1, 7)]),
            ]
        ),
        "volume_curves": fig.volume_curves_png({"stress": function, "rest": function}),
        "calcium_overlay": fig.calcium_overlay_png(
            np.zeros((6, 32, 32)), {1: "LAD", 2: "RCA"}, lesion_labels=labels
        ),
        "shap_waterfall": fig.shap_waterfall_png(data["risk"]["top_contributors"]),
    }
    for state in ("stress", "rest"):
        figures[f"wall_motion_{state}"] = fig.bullseye_png(
            np.linspace(2, 9, 17), title=f"{state} motion", vmin=0, vmax=12, unit="mm"
        )
        figures[f"thickening_{state}"] = fig.bullseye_png(
            np.linspace(10, 60, 17), title=f"{state} thickening", unit="%"
        )
        figures[f"phase_{state}"] = phase_png(
            phase,
            weight,
            fraction,
            angle,
            sd_deg=10.0,
            bandwidth_deg=40.0,
            peak_deg=150.0,
            title=state,
        )
    # every figure of a SPECT + calcium + risk report; PET flow maps are tested with the
    # pet_flow section (tests/nuclear/test_flow_images.py)
    assert set(figures) == set(FIGURE_TITLES) - {"mbf_rest", "mbf_stress", "mfr"}
    return figures


def _full_report() -> dict:
    data = report_dict(nuclear=reversible_lad_nuclear(), calcium=calcium_json(), risk=risk_json())
    data["nuclear"]["extent_pct"] = {"stress": 17.0, "rest": 0.0, "reversible": 17.0, "fixed": 0.0}
    data["nuclear"]["normal_database"] = {"sex": "any", "tracer": "Tc-99m (simulated)"}
    data["quality_flags"] = [
        {
            "stage": "nuclear",
            "severity": "warning",
            "code": "normals_simulated",
            "message": "the normal database is simulated (digital phantoms), not patients",
        },
        {"stage": "io", "severity": "info", "message": "series of the same patient included"},
    ]
    data["study"]["patient"] = {
        "values": {
            "age_years": 67.0,
            "sex": "female",
            "height_cm": 165.0,
            "weight_kg": 70.0,
            "bmi_kg_m2": 25.7,
            "indication": "chest pain",
        },
        "sources": {
            "age_years": "DICOM",
            "sex": "DICOM",
            "height_cm": "--clinical",
            "weight_kg": "--clinical",
            "bmi_kg_m2": "computed",
            "indication": "--clinical",
        },
    }
    data["study"]["acquisitions"] = [
        {
            "series": "stress",
            "modality": "NM",
            "camera": "GE Ventri",
            "radiopharmaceutical": "Tc-99m sestamibi",
            "injected_mbq": 925.0,
            "gates": 8,
            "attenuation_correction": "no",
        },
    ]
    data["calcium"]["mesa"] = {
        "percentile": 88.0,
        "age_years": 67,
        "sex": "female",
        "race_ethnicity": "white",
        "reference": "McClelland 2006",
    }
    data["provenance"]["parameters"] = {"calcium_phantom": False, "role_overrides": {}}
    data["provenance"]["inputs"] = [
        {"path": f"f{i:02d}.dcm", "sha256": f"{i:064x}"} for i in range(64)
    ]
    data["narrative"] = build_narrative(data).to_json()
    return data


@pytest.fixture(scope="module")
def written_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("page")
    data = _full_report()
    figures = _all_figures(data)
    _, html_path = write_report(out, data, figures)
    return data, figures, html_path


def _png_width(png: bytes) -> int:
    return struct.unpack(">I", png[16:20])[0]


def test_every_figure_loads_and_is_legible_at_1280_px(written_page, tmp_path):
    data, figures, html_path = written_page
    assert load_report(html_path.parent) == data
    assert set(load_figures(html_path.parent)) == set(figures)
    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page.replace("https://cardiolens", "")
    dom = dump_dom(html_path, tmp_path / "profile", width=1280)
    assert 'data-images-loaded="true"' in dom
    assert f'data-image-count="{len(figures)}"' in dom
    for name, png in figures.items():
        match = re.search(rf'<img id="fig-{name}"[^>]*data-rendered-width="(\d+)"', dom)
        assert match, name
        assert int(match[1]) >= MIN_SCALE * _png_width(png), (name, match[1], _png_width(png))
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = screenshot(html_path, ARTEFACTS / "report_1280.png", tmp_path / "p2", width=1280)
    assert shot.stat().st_size > 50_000


def test_print_is_at_most_six_a4_pages_with_legible_figures(written_page, tmp_path):
    _, figures, html_path = written_page
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    pdf = print_pdf(html_path, ARTEFACTS / "report_print.pdf", tmp_path / "profile")
    assert 1 <= pdf_page_count(pdf) <= 6
    widths = pdf_image_widths_mm(pdf)
    assert len(widths) == len(figures)
    order = re.findall(r'<img id="fig-([a-z_]+)"', html_path.read_text())
    for name, printed_mm in zip(order, widths, strict=True):
        natural_mm = _png_width(figures[name]) / 100.0 * 25.4
        assert printed_mm >= MIN_SCALE * natural_mm, (name, printed_mm, natural_mm)
        assert printed_mm <= 190.0, name  # inside the A4 text width (210 - 2 x 10 mm)


def test_context_provenance_and_flags_read_as_a_physician_expects(written_page, tmp_path):
    data, _, html_path = written_page
    text = re.sub(r"<[^>]+>", " ", html_path.read_text())
    text = re.sub(r"\s+", " ", text)
    for expected in (
        "SSS 10",
        "A2/N2",
        "xgb-test-0001",
        "Age (years) 67.0 (DICOM)",
        "BMI (kg/m2) 25.7 (computed)",
        "Indication chest pain (--clinical)",
        "Tc-99m sestamibi",
        "925",
        "MESA percentile: 88",
        "the normal database is simulated",
        "1 quality flag(s) raised",
        "Not signed",
        "factor 0.000720 mg/(HU mm3), source default 120 kV",
        f"64 input file(s); SHA-256 of their manifest {inputs_digest(data['provenance']['inputs'])}",
        "calcium phantom False",
    ):
        assert expected in text, expected
    assert "{'" not in text and "': " not in text  # no raw Python dicts


def test_inputs_digest_is_the_sha256sum_manifest():
    import hashlib

    inputs = [{"path": "b.dcm", "sha256": "2" * 64}, {"path": "a.dcm", "sha256": "1" * 64}]
    manifest = f"{'1' * 64}  a.dcm\n{'2' * 64}  b.dcm\n"
    assert inputs_digest(inputs) == hashlib.sha256(manifest.encode()).hexdigest()


def test_reversibility_bullseye_never_prints_minus_zero():
    from cardiolens.report.figures import _integer_label

    assert [_integer_label(v) for v in (-0.4, -0.0, 0.3, -0.6, 12.5)] == ["0", "0", "0", "-1", "12"]


def test_stage_keys_of_the_nuclear_engineer_render_as_tables(tmp_path):
    data = report_dict(nuclear=reversible_lad_nuclear())
    data["nuclear"]["protocol"] = {"stress": {"agent": "regadenoson", "tracer": "Tc-99m"}}
    data["nuclear"]["orientation"] = {"stress": {"input": "short-axis", "source": "header"}}
    _, html_path = write_report(tmp_path, data, {})
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_path.read_text()))
    assert "Nuclear protocol stress: agent regadenoson stress: tracer Tc-99m" in text
    assert "Orientation stress: input short-axis stress: source header" in text
    assert "not signed" in text
