"""Headless Chromium helpers for the report-page tests (skip when no browser is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2000",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")


def dump_dom(html_path: Path, profile: Path) -> str:
    """The page's DOM after load (scripts run), as Chromium serialises it."""
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(html_path: Path, png_path: Path, profile: Path) -> Path:
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    return png_path


def dom_at_width(html_path: Path, profile: Path, width: int = 1280) -> str:
    """The DOM after load at a given window width (the page records image sizes)."""
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--window-size")]
    result = subprocess.run(
        [
            chromium(),
            *flags,
            f"--window-size={width},2000",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot_at_width(html_path: Path, png_path: Path, profile: Path, width: int = 1280) -> Path:
    """A full-height screenshot (6000 px) at ``width``."""
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--window-size")]
    subprocess.run(
        [
            chromium(),
            *flags,
            f"--window-size={width},6000",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    return png_path


def print_pdf(html_path: Path, pdf_path: Path, profile: Path) -> Path:
    """The page printed by Chromium (A4 from the page's @page rule, no header/footer)."""
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return pdf_path


def _streams(pdf: bytes) -> list[bytes]:
    """The decompressed content streams (Flate) of a PDF that draw images (``Do``)."""
    found = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        head = pdf[max(0, match.start() - 400) : match.start()]
        lengths = re.findall(rb"/Length (\d+)", head)
        if not lengths or b"/Subtype /Image" in head.split(b"obj")[-1]:
            continue
        try:
            data = zlib.decompress(pdf[match.end() : match.end() + int(lengths[-1])])
        except zlib.error:
            continue
        if b" Do" in data or b"\nDo" in data:
            found.append(data)
    return found


_TOKEN = re.compile(
    rb"<[0-9A-Fa-f\s]*>|\((?:\\.|[^\\)])*\)|/[^\s/<>\[\]()]+|[-+]?\d*\.?\d+|[A-Za-z'\"*]+"
)


def pdf_page_count(pdf_path: Path) -> int:
    """Pages of a PDF (page objects ``/Type /Page``)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf_path.read_bytes()))


def pdf_image_widths_mm(pdf_path: Path) -> list[float]:
    """Printed width (mm) of every image drawn in the PDF, in drawing order.

    Follows the graphics state of each content stream (``q``/``Q`` save and
    restore, ``cm`` concatenates the matrix); an image fills the unit square, so its
    printed width is the length of the transformed x unit vector, in points.
    """
    widths = []
    for stream in _streams(pdf_path.read_bytes()):
        matrix = np.eye(3)
        stack = []
        operands: list[bytes] = []
        for token in _TOKEN.findall(stream):
            if re.fullmatch(rb"[-+]?\d*\.?\d+", token):
                operands.append(token)
                continue
            if token == b"q":
                stack.append(matrix.copy())
            elif token == b"Q" and stack:
                matrix = stack.pop()
            elif token == b"cm" and len(operands) >= 6:
                a, b, c, d, e, f = (float(x) for x in operands[-6:])
                matrix = np.array([[a, b, 0.0], [c, d, 0.0], [e, f, 1.0]]) @ matrix
            elif token == b"Do":
                widths.append(float(np.hypot(matrix[0, 0], matrix[0, 1])) * 25.4 / 72.0)
            if not token.startswith(b"/"):
                operands = []
    return widths
