"""The clinician review page in real headless Chromium (Selenium + chromium-driver).

Log in, open a study from the worklist, amend a stress segment score, sign, and see
the changed SSS and the audit entries; the report itself (``report.json`` and a new SR
superseding the first) carries the recomputed SSS/SDS. Screenshots go to
``test-artifacts/review``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from cardiolens.service.config import ServiceConfig
from cardiolens.service.store import JobStore
from tests.report.browser import CHROMIUM_FLAGS, chromium
from tests.report.fakes import sr_numbers
from tests.service.server import Service

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"


def _stress_rest_files(source: Path, folder: Path) -> list[Path]:
    """The real PhysioNet study as rest, and a copy labelled stress (a new series)."""
    folder.mkdir()
    stress = pydicom.dcmread(source)
    stress.SeriesDescription = "STRESS"
    stress.SeriesInstanceUID, stress.SOPInstanceUID = generate_uid(), generate_uid()
    stress.file_meta.MediaStorageSOPInstanceUID = stress.SOPInstanceUID
    stress.save_as(folder / "stress.dcm")
    shutil.copy(source, folder / "rest.dcm")
    return [folder / "rest.dcm", folder / "stress.dcm"]


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        pytest.skip("chromium-driver is not installed (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def test_physician_amends_a_segment_score_and_signs(physionet_dicom_dir, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    files = _stress_rest_files(sorted(physionet_dicom_dir.glob("*.dcm"))[2], tmp_path / "study")
    data = tmp_path / "data"
    token = JobStore(ServiceConfig(data).store_path).add_token("dr.review", "physician")
    service = Service(data).start()
    try:
        status, job = service.upload(token, [(p.name, p.read_bytes()) for p in files])
        assert status == 202, job
        job = service.wait_for(token, job["job_id"], ("done", "failed"))
        assert job["status"] == "done", job
        report = service.request("GET", f"/jobs/{job['job_id']}/report.json", token)[1]
        stress_scores = report["nuclear"]["stress"]["segment_scores"]
        sss = report["nuclear"]["stress"]["summed_score"]
        assert sss == sum(stress_scores)

        wait = WebDriverWait(browser, 30)
        browser.get(f"{service.url}/review")
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "login-button").click()
        row = f"tr[data-job-id='{job['job_id']}'] button.open"
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, row))).click()
        wait.until(ready.text_to_be_present_in_element((By.ID, "sss-current"), str(sss)))
        wait.until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('#figures img')].every(i => i.complete)"
                " && document.querySelectorAll('#figures img').length > 0"
            )
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "1-opened.png"))

        segment = 7
        new_score = 4 if stress_scores[segment - 1] < 4 else 0
        expected_sss = sss - stress_scores[segment - 1] + new_score
        selector = f"select[data-state='stress'][data-segment='{segment}']"
        Select(browser.find_element(By.CSS_SELECTOR, selector)).select_by_value(str(new_score))
        wait.until(ready.text_to_be_present_in_element((By.ID, "sss-current"), str(expected_sss)))
        assert browser.find_element(By.ID, "sss-current").text == str(expected_sss)
        browser.save_screenshot(str(ARTIFACTS / "2-amended.png"))

        browser.find_element(By.ID, "sign").click()
        wait.until(ready.visibility_of_element_located((By.ID, "signed-banner")))
        wait.until(
            ready.presence_of_element_located((By.CSS_SELECTOR, "#audit li[data-action='sign']"))
        )
        browser.save_screenshot(str(ARTIFACTS / "3-signed.png"))
        audit = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#audit li")]
        change = f"stress segment {segment}: {stress_scores[segment - 1]} -> {new_score}"
        assert any("amend by dr.review" in t and change in t for t in audit), audit
        assert any("sign by dr.review" in t for t in audit), audit
        assert browser.find_element(By.CSS_SELECTOR, selector).get_attribute("disabled")

        review = service.request("GET", f"/jobs/{job['job_id']}/review", token)[1]
        assert review["current"]["sss"] == expected_sss and review["original"]["sss"] == sss
        expected_sds = expected_sss - review["current"]["srs"]
        assert review["current"]["sds"] == expected_sds
        status, answer = service.request(
            "POST",
            f"/jobs/{job['job_id']}/amend",
            token,
            {"changes": [{"kind": "segment_score", "state": "stress", "segment": 1, "score": 2}]},
        )
        assert status == 409 and "locked" in answer["detail"]

        # the report itself was rewritten: report.json and a new SR carry the new SSS/SDS
        amended = service.request("GET", f"/jobs/{job['job_id']}/report.json", token)[1]
        assert amended["nuclear"]["stress"]["summed_score"] == expected_sss
        assert amended["nuclear"]["sds"] == expected_sds
        assert amended["physician"]["signoff"]["reader"] == "dr.review"
        [entry] = amended["physician"]["amendments"]
        assert (entry["user"], entry["changes"][0]["after"]) == ("dr.review", new_score)
        out = data / "jobs" / job["job_id"] / "out"
        signed_sr = amended["physician"]["signoff"]["sr"]
        assert (entry["sr"], signed_sr) == ("sr_v2.dcm", "sr_v3.dcm")
        assert sr_numbers(out / "sr.dcm")["Summed stress score"] == [sss]  # kept
        for name in (entry["sr"], signed_sr):
            numbers = sr_numbers(out / name)
            assert numbers["Summed stress score"] == [expected_sss], name
            assert numbers["Summed difference score"] == [expected_sds], name
        status, current_sr = service.request("GET", f"/jobs/{job['job_id']}/sr.dcm", token)
        assert status == 200 and current_sr == (out / signed_sr).read_bytes()
    finally:
        service.stop()
