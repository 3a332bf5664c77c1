"""`Study` and `Series`: what a DICOM study holds, grouped by series, with a clinical role."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume

__all__ = ["SeriesRole", "Series", "Study"]


class SeriesRole(StrEnum):
    """The clinical role of a series in a cardiac study."""

    CT_CALCIUM = "ct_calcium"
    CCTA = "ccta"
    CT_ATTENUATION = "ct_attenuation"
    SPECT_STRESS = "spect_stress"
    SPECT_REST = "spect_rest"
    PET_REST = "pet_rest"
    PET_STRESS = "pet_stress"
    PET_DYNAMIC = "pet_dynamic"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str) -> SeriesRole:
        """The role named ``value``; a wrong name gets the list of valid ones."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            import difflib

            names = [r.value for r in cls]
            close = difflib.get_close_matches(value.lower(), names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"unknown series role {value!r}; expected one of {', '.join(names)}.{hint}"
            ) from None


@dataclass
class Series:
    """One image series.

    Parameters
    ----------
    series_uid
        DICOM SeriesInstanceUID (or a file-derived identifier for NIfTI/NRRD).
    modality
        ``CT``, ``NM``, ``PT``, ...
    volume
        The main 3D image (for gated SPECT: the sum over gates).
    gates
        One volume per cardiac gate (empty when not gated), all on ``volume``'s grid.
    frames
        Further volumes (for example dynamic PET time frames), with ``frame_times_s``.
    role
        Clinical role, with ``role_confidence`` in [0, 1] and ``role_source``
        (``"header"``, ``"inferred"``, ``"override"``).
    """

    series_uid: str
    modality: str
    volume: Volume
    gates: list[Volume] = field(default_factory=list)
    frames: list[Volume] = field(default_factory=list)
    frame_times_s: list[float] = field(default_factory=list)
    role: SeriesRole = SeriesRole.UNKNOWN
    role_confidence: float = 0.0
    role_source: str = "inferred"
    description: str = ""
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_gates(self) -> int:
        """Number of cardiac gates (0 when not gated)."""
        return len(self.gates)

    @property
    def n_volumes(self) -> int:
        """Number of 3D volumes held: the main volume plus gates and frames."""
        return 1 + len(self.gates) + len(self.frames)

    def value_range(self) -> tuple[float, float]:
        """(min, max) of the main volume, ignoring non-finite voxels."""
        data = self.volume.array
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        if finite.size == 0:
            return (float("nan"), float("nan"))
        return (float(finite.min()), float(finite.max()))

    def set_role(
        self, role: SeriesRole | str, source: str = "override", confidence: float = 1.0
    ) -> None:
        """Set the clinical role (for example from a user's ``--role UID=ROLE``)."""
        self.role = role if isinstance(role, SeriesRole) else SeriesRole.parse(role)
        self.role_source = source
        self.role_confidence = confidence

    def summary(self) -> dict[str, Any]:
        """The JSON-ready description printed by ``cardiolens info --json``."""
        lo, hi = self.value_range()
        return {
            "series_uid": self.series_uid,
            "modality": self.modality,
            "role": self.role.value,
            "role_confidence": round(self.role_confidence, 3),
            "role_source": self.role_source,
            "description": self.description,
            "shape": list(self.volume.shape),
            "spacing_mm": [round(s, 6) for s in self.volume.spacing_mm],
            "n_gates": self.n_gates,
            "n_volumes": self.n_volumes,
            "value_range": [lo, hi],
            "units": self.volume.metadata.get("units", ""),
            "n_files": len(self.files),
            "warnings": list(self.warnings),
        }


@dataclass
class Study:
    """A patient's imaging study: series grouped by SeriesInstanceUID.

    ``patient_id`` is whatever identifier the source holds; de-identify first
    (``cardiolens deidentify``) when a pseudonym is needed.
    """

    study_uid: str
    patient_id: str = ""
    study_date: str = ""
    series: list[Series] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed_files: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def by_role(self, role: SeriesRole | str) -> list[Series]:
        """Series with the given role."""
        role = role if isinstance(role, SeriesRole) else SeriesRole.parse(role)
        return [s for s in self.series if s.role == role]

    def get(self, series_uid: str) -> Series:
        """The series with this UID."""
        for s in self.series:
            if s.series_uid == series_uid:
                return s
        raise ParameterError(
            f"no series {series_uid!r} in study; series present: "
            + ", ".join(s.series_uid for s in self.series)
        )

    def override_roles(self, overrides: dict[str, str]) -> None:
        """Apply ``{series_uid: role}`` overrides; an unknown UID is an error."""
        for uid, role in overrides.items():
            self.get(uid).set_role(role)
