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
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")


def _run(
    html_path: Path, profile: Path, *options: str, width: int = 1400, height: int = 2000
) -> subprocess.CompletedProcess:
    """Chromium on the page with ``options``, a window of ``width`` x ``height`` CSS px."""
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
            *options,
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def dump_dom(html_path: Path, profile: Path, width: int = 1400) -> str:
    """The page's DOM after load (scripts run, which record image sizes), as serialised."""
    return _run(html_path, profile, "--virtual-time-budget=5000", "--dump-dom", width=width).stdout


def screenshot(html_path: Path, png_path: Path, profile: Path, width: int = 1280) -> Path:
    """A screenshot 6000 px high at ``width``."""
    _run(
        html_path,
        profile,
        "--hide-scrollbars",
        f"--screenshot={png_path}",
        width=width,
        height=6000,
    )
    return png_path


def print_pdf(html_path: Path, pdf_path: Path, profile: Path) -> Path:
    """The page printed by Chromium (A4 from the page's @page rule, no header/footer)."""
    _run(html_path, profile, "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}")
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
