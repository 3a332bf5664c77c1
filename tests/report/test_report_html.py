"""report.html: self-contained, every image decodes in a real browser, key numbers shown."""

from __future__ import annotations

import re

import numpy as np

from cardiolens.report import figures as fig
from cardiolens.report.document import load_figures, load_report, write_report
from tests.report.browser import dump_dom, screenshot
from tests.report.fakes import calcium_json, report_dict, reversible_lad_nuclear, risk_json


def _figures(data):
    nuclear = data["nuclear"]
    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 28))
    mask = np.zeros(image.shape, bool)
    mask[8:12, 8:16, 10:18] = True
    labels = np.zeros((6, 32, 32), int)
    labels[2:4, 10:14, 10:14] = 1
    labels[3, 20:22, 20:22] = 2
    return {
        "bullseye_stress": fig.bullseye_png(nuclear["stress"]["segments"], title="stress"),
        "bullseye_rest": fig.bullseye_png(nuclear["rest"]["segments"], title="rest"),
        "slices_stress": fig.slice_panels_png(
            [("SA", image[10], mask[10]), ("VLA", image[:, 12], mask[:, 12])]
        ),
        "volume_curve_stress": fig.volume_curve_png([100, 90, 70, 50, 48, 60, 80, 95]),
        "calcium_overlay": fig.calcium_overlay_png(
            np.zeros((6, 32, 32)), {1: "LAD", 2: "RCA"}, lesion_labels=labels
        ),
        "shap_waterfall": fig.shap_waterfall_png(data["risk"]["top_contributors"]),
    }


def test_report_page_in_headless_chromium(tmp_path):
    data = report_dict(nuclear=reversible_lad_nuclear(), calcium=calcium_json(), risk=risk_json())
    figures = _figures(data)
    json_path, html_path = write_report(tmp_path / "out", data, figures)
    assert load_report(tmp_path / "out") == data
    assert set(load_figures(tmp_path / "out")) == set(figures)
    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page.replace("https://cardiolens", "")
    dom = dump_dom(html_path, tmp_path / "profile")
    assert 'data-images-loaded="true"' in dom
    assert f'data-image-count="{len(figures)}"' in dom
    text = re.sub(r"<[^>]+>", " ", dom)
    for number in ("SSS 10", "14.0", "LVEF 52%", "180.0", "A2/N2", "32.0%", "xgb-test-0001"):
        assert number in text, number
    png = screenshot(html_path, tmp_path / "shot.png", tmp_path / "profile2")
    assert png.stat().st_size > 10_000
