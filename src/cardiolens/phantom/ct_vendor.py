"""Vendor-like DICOM headers and pixel storage for the CT phantom.

Real calcium CTs differ in how they store HU, and a reader that assumes one convention
scores a wrong image. :func:`write_vendor_ct` writes a phantom CT with one of four
vendor-like profiles (:data:`VENDOR_PROFILES`): Manufacturer, ManufacturerModelName,
ConvolutionKernel, ReconstructionDiameter, signed or unsigned storage, RescaleIntercept
-1024 or 0, BitsStored, and PixelPaddingValue (DICOM PS3.3 C.7.5.1.1.2) where the
profile writes one. Values a profile cannot store are clipped, as a scanner clips them
(for example metal above 3071 HU on 12-bit unsigned storage, air below -1024 HU).

The profiles are *like* those vendors' common calcium-scoring exports, not copies of any
scanner's conformance statement: they cover the storage conventions a reader must handle
(signed/unsigned, intercept -1024/0, padding below or at air), with the padding values of
:data:`cardiolens.phantom.ct_scanner.VENDOR_PADDING_HU`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.phantom.ct_scanner import VENDOR_PADDING_HU

__all__ = ["VENDOR_PROFILES", "VendorProfile", "stored_hu", "write_vendor_ct"]


@dataclass(frozen=True)
class VendorProfile:
    """How one vendor-like export stores a CT.

    Attributes
    ----------
    manufacturer, model, kernel
        Manufacturer, ManufacturerModelName and ConvolutionKernel.
    signed
        PixelRepresentation 1 (int16) or 0 (uint16).
    intercept_hu
        RescaleIntercept (RescaleSlope is 1).
    bits_stored
        BitsStored (12 or 16): the stored range.
    padding_hu
        HU written outside the reconstruction circle.
    writes_padding_value
        Whether PixelPaddingValue (the stored padding) is in the header.
    """

    manufacturer: str
    model: str
    kernel: str
    signed: bool
    intercept_hu: float
    bits_stored: int
    padding_hu: float
    writes_padding_value: bool

    @property
    def stored_range(self) -> tuple[int, int]:
        """Lowest and highest stored value."""
        if self.signed:
            return -(2 ** (self.bits_stored - 1)), 2 ** (self.bits_stored - 1) - 1
        return 0, 2**self.bits_stored - 1

    @property
    def hu_range(self) -> tuple[float, float]:
        """Lowest and highest HU the profile can store."""
        lo, hi = self.stored_range
        return lo + self.intercept_hu, hi + self.intercept_hu


#: The four vendor-like profiles (see module).
VENDOR_PROFILES: dict[str, VendorProfile] = {
    "siemens": VendorProfile(
        "SIEMENS", "SOMATOM Force", "Qr36d", True, -1024.0, 16, VENDOR_PADDING_HU["siemens"], False
    ),
    "ge": VendorProfile(
        "GE MEDICAL SYSTEMS", "Revolution CT", "STANDARD", True, -1024.0, 16,
        VENDOR_PADDING_HU["ge"], True,
    ),
    "philips": VendorProfile(
        "Philips", "iCT 256", "B", False, -1024.0, 12, VENDOR_PADDING_HU["philips"], False
    ),
    "canon": VendorProfile(
        "CANON_MEC", "Aquilion ONE", "FC12", True, 0.0, 16, VENDOR_PADDING_HU["canon"], True
    ),
}  # fmt: skip


def stored_hu(hu: np.ndarray, profile: VendorProfile) -> np.ndarray:
    """The HU a reader gets back from ``profile``'s storage: rounded and clipped."""
    lo, hi = profile.hu_range
    return np.clip(np.round(np.asarray(hu, dtype=np.float64)), lo, hi)


def write_vendor_ct(
    folder: str | Path,
    volume: Volume,
    vendor: str,
    *,
    patient_id: str,
    study_uid: str,
    kvp: float = 120.0,
    slice_thickness_mm: float | None = None,
    reconstruction_diameter_mm: float | None = None,
) -> list[Path]:
    """Write ``volume`` (HU) as a CT series with ``vendor``'s profile (see module).

    ``reconstruction_diameter_mm`` is the field-of-view circle (the image width when
    ``None``). Returns the files in slice order.
    """
    import pydicom

    from cardiolens.io import write_ct_series

    if vendor not in VENDOR_PROFILES:
        raise ParameterError(f"unknown vendor {vendor!r}; use one of {', '.join(VENDOR_PROFILES)}")
    profile = VENDOR_PROFILES[vendor]
    paths = write_ct_series(
        folder,
        volume,
        patient_id=patient_id,
        study_uid=study_uid,
        kvp=kvp,
        slice_thickness_mm=slice_thickness_mm,
        convolution_kernel=profile.kernel,
    )
    hu = stored_hu(volume.array, profile)
    dtype = np.int16 if profile.signed else np.uint16
    diameter = reconstruction_diameter_mm or volume.shape[2] * volume.spacing_mm[2]
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.Manufacturer = profile.manufacturer
        ds.ManufacturerModelName = profile.model
        ds.ReconstructionDiameter = f"{diameter:.1f}"
        ds.PixelRepresentation = int(profile.signed)
        ds.BitsStored = profile.bits_stored
        ds.HighBit = profile.bits_stored - 1
        ds.RescaleIntercept = f"{profile.intercept_hu:g}"
        ds.RescaleSlope = "1"
        if profile.writes_padding_value:
            padding = int(profile.padding_hu - profile.intercept_hu)
            ds.add_new(0x00280120, "SS" if profile.signed else "US", padding)
        ds.PixelData = np.ascontiguousarray(hu[k] - profile.intercept_hu).astype(dtype).tobytes()
        ds.save_as(path, enforce_file_format=True)
    return paths
