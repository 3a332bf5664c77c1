"""The acquisition protocol read from an image header, and the normal database chosen for it.

Normal limits depend on camera, reconstruction (attenuation correction), tracer
and sex (Slomka PJ et al., J Nucl Cardiol 2005;12:66-77; ASNC imaging guidelines,
Dorbala S et al., J Nucl Cardiol 2018;25:1784-1846). :func:`read_protocol` reads
what the DICOM header says (Manufacturer, ManufacturerModelName, collimator,
CorrectedImage, Radiopharmaceutical); :func:`choose_normal_database` picks the
shipped database (:data:`cardiolens.nuclear.normal_build.RECIPES`) that matches,
and otherwise the closest one with a flag naming each mismatch.

Camera kind: dedicated cardiac CZT cameras are recognised by model (Discovery NM
530c/570c, whose header model is ``UFC``; D-SPECT; StarGuide; VERITON; Alcyone)
or by a multi-pinhole collimator (``MPH...``); every other NM camera is taken as
an Anger camera. Closest database: the same camera kind and attenuation
correction when known; a PET tracer (Rb-82, N-13 ammonia, F-18 flurpiridaz) has
no shipped PET database and gets the high-resolution attenuation-corrected
SPECT limits (PET images are always attenuation-corrected and of higher
resolution than Anger SPECT), flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cardiolens.core.errors import InputError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.normals import NormalDatabase

__all__ = [
    "DatabaseChoice",
    "StudyProtocol",
    "choose_normal_database",
    "clinical_sex",
    "given_database",
    "read_protocol",
    "shipped_database_path",
]

_CZT_MODELS = ("530", "570", "ufc", "d-spect", "dspect", "starguide", "veriton", "alcyone")
_TRACERS = (
    ("rb82", ("rb", "rubidium")),
    ("n13_ammonia", ("ammonia", "n-13", "n13", "13n")),
    ("f18_flurpiridaz", ("flurpiridaz", "f-18", "f18", "18f")),
    ("tl201", ("thallium", "tl-201", "tl201", "201tl")),
    ("tc99m", ("tc", "99m", "sestamibi", "mibi", "tetrofosmin", "myoview", "cardiolite")),
)
_PET_TRACERS = ("rb82", "n13_ammonia", "f18_flurpiridaz")


@dataclass(frozen=True)
class StudyProtocol:
    """What the header says about how an image was acquired and reconstructed.

    ``camera_kind`` (``anger``, ``czt``, ``pet`` or None when unknown),
    ``attenuation_corrected`` (None when unknown: no DICOM header), ``tracer``
    (``tc99m``, ``tl201``, ``rb82``... or None), and the header text it was read from.
    """

    modality: str
    camera_kind: str | None
    attenuation_corrected: bool | None
    tracer: str | None
    manufacturer: str = ""
    model: str = ""
    collimator: str = ""
    radiopharmaceutical: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``nuclear["protocol"]`` object of the report."""
        return {
            "modality": self.modality,
            "camera_kind": self.camera_kind,
            "attenuation_corrected": self.attenuation_corrected,
            "tracer": self.tracer,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "collimator": self.collimator,
            "radiopharmaceutical": self.radiopharmaceutical,
        }


def _tracer(text: str) -> str | None:
    lowered = text.lower()
    for name, keys in _TRACERS:
        if any(key in lowered for key in keys):
            return name
    return None


def _attenuation_corrected(meta: dict[str, Any]) -> bool | None:
    """Whether CorrectedImage (0028,0051) holds ``ATTN``; None without a DICOM header."""
    if "corrected_image" not in meta and "attenuation_corrected" not in meta:
        return None
    values = [str(v).upper() for v in meta.get("corrected_image") or []]
    return "ATTN" in values or bool(meta.get("attenuation_corrected"))


def read_protocol(volume: Volume) -> StudyProtocol:
    """The protocol of an image from the header attributes kept in ``volume.metadata``."""
    meta = volume.metadata or {}
    modality = (volume.modality or "OT").upper()
    manufacturer, model = str(meta.get("manufacturer", "")), str(meta.get("model", ""))
    collimator = str(meta.get("collimator", ""))
    radiopharmaceutical = str(meta.get("radiopharmaceutical", ""))
    tracer = _tracer(radiopharmaceutical)
    from_dicom = bool(meta.get("sop_class_uid"))
    corrected = _attenuation_corrected(meta)
    camera: str | None = None
    if modality == "PT" or tracer in _PET_TRACERS:
        camera = "pet"
        corrected = True if modality == "PT" else corrected
    elif any(key in model.lower() for key in _CZT_MODELS) or collimator.upper().startswith("MPH"):
        camera = "czt"
    elif from_dicom and modality == "NM":
        camera = "anger"
    return StudyProtocol(
        modality=modality,
        camera_kind=camera,
        attenuation_corrected=None if corrected is None else bool(corrected),
        tracer=tracer,
        manufacturer=manufacturer,
        model=model,
        collimator=collimator,
        radiopharmaceutical=radiopharmaceutical,
    )


@dataclass(frozen=True, eq=False)
class DatabaseChoice:
    """The normal database used for an image, why, and how it differs from the image's protocol."""

    key: str
    database: NormalDatabase
    reasons: tuple[str, ...]
    mismatches: tuple[str, ...] = field(default_factory=tuple)
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``nuclear["normal_database"]`` object of the report."""
        return {
            "key": self.key,
            "camera": self.database.camera,
            "tracer": self.database.tracer,
            "sex": self.database.sex,
            "n_studies": self.database.n_studies,
            "source": self.database.provenance.get("source", ""),
            "reasons": list(self.reasons),
            "mismatches": list(self.mismatches),
        }


def shipped_database_path(key: str) -> Path:
    """File of the shipped database ``key`` (``normals_<key>.npz`` in ``nuclear/data``)."""
    path = resources.files("cardiolens.nuclear") / "data" / f"normals_{key}.npz"
    return Path(str(path))


def _population(database: NormalDatabase) -> str:
    studies = database.provenance.get("studies", [])
    female = sum(s.get("sex") == "female" and "left_out" not in s for s in studies)
    male = sum(s.get("sex") == "male" and "left_out" not in s for s in studies)
    return f"{female} female and {male} male normals"


def clinical_sex(clinical: dict[str, Any] | None) -> str | None:
    """``female``/``male`` from a clinical input's ``sex`` (``female``, ``f``, ``male``, ``m``; any case)."""
    value = str((clinical or {}).get("sex", "")).strip().lower()
    return {"female": "female", "f": "female", "male": "male", "m": "male"}.get(value)


def choose_normal_database(protocol: StudyProtocol, sex: str | None = None) -> DatabaseChoice:
    """The shipped database for ``protocol`` (module docstring), with reasons and mismatches.

    ``sex`` (``female``/``male``, from the clinical input) is recorded; the
    shipped databases mix both sexes, which is flagged when it is given.
    """
    reasons: list[str] = []
    mismatches: list[str] = []
    camera = protocol.camera_kind
    if camera == "pet":
        mismatches.append(
            f"tracer {protocol.tracer or protocol.radiopharmaceutical or 'PET'} ({protocol.modality}): "
            "no PET normal database is shipped; the high-resolution attenuation-corrected "
            "Tc-99m SPECT limits are used (build a PET database with 'cardiolens normals build')"
        )
        kind, corrected = "czt", True
    else:
        if camera is None:
            mismatches.append(
                "camera unknown (no DICOM header): the Anger LEHR database is assumed"
            )
            kind = "anger"
        else:
            kind = camera
            reasons.append(
                f"camera {protocol.manufacturer} {protocol.model} ({protocol.collimator or 'collimator not given'})"
                f" read as {'a CZT camera' if camera == 'czt' else 'an Anger camera'}"
            )
        corrected = protocol.attenuation_corrected
        if corrected is None:
            mismatches.append(
                "attenuation correction unknown (no DICOM header): the attenuation-corrected "
                "database is assumed"
            )
            corrected = True
        else:
            reasons.append(
                "CorrectedImage "
                + (
                    "includes ATTN: attenuation-corrected"
                    if corrected
                    else "has no ATTN: not attenuation-corrected"
                )
            )
        if protocol.tracer not in (None, "tc99m"):
            mismatches.append(
                f"tracer {protocol.tracer}: the shipped databases are Tc-99m; its limits are used"
            )
        elif protocol.tracer is None:
            reasons.append("tracer not given in the header: Tc-99m assumed")
        else:
            reasons.append(f"tracer {protocol.radiopharmaceutical} (Tc-99m)")
    suffix = "ac" if corrected else "nac"
    key = f"{'czt_hr' if kind == 'czt' else 'anger_lehr'}_{suffix}"
    path = shipped_database_path(key)
    if not path.exists() and kind == "czt":
        mismatches.append(
            f"no CZT database ({key}) in this installation: the Anger LEHR "
            f"{'attenuation-corrected' if corrected else 'non-corrected'} limits are used (lower "
            "resolution than CZT; build it with 'cardiolens normals build-default')"
        )
        key = f"anger_lehr_{suffix}"
        path = shipped_database_path(key)
    if not path.exists():
        raise InputError(
            "the shipped normal database is missing from the installation; pass --normals DB.npz "
            "built with 'cardiolens normals build'",
            path,
        )
    database = NormalDatabase.load(path)
    if sex in ("female", "male"):
        mismatches.append(
            f"sex {sex} (clinical input): the shipped database mixes {_population(database)}; "
            "no sex-specific database is shipped"
        )
    return DatabaseChoice(key, database, tuple(reasons), tuple(mismatches), path)


def given_database(database: NormalDatabase, path: Path | None = None) -> DatabaseChoice:
    """A database the user passed (``--normals``): used as given, nothing checked."""
    return DatabaseChoice(
        "user",
        database,
        ("given by the user (--normals)",),
        (),
        None if path is None else Path(path),
    )
