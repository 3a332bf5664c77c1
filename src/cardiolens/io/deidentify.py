"""De-identification by the DICOM Basic Application Level Confidentiality Profile.

Implements DICOM PS3.15 Annex E (E.1 basic profile, action codes of E.3.1) from
the attribute table in ``deid_basic_profile.json`` (Table E.1-1, basic profile
column), applied at every nesting level of sequences. Further choices:

* UIDs (action U) are replaced by ``2.25.<int>`` where the integer is the first
  128 bits of HMAC-SHA256(secret, UID): the same UID maps to the same new UID
  in every run, study and file that uses the same secret (PS3.5 B.2 UUID form).
* PatientID and PatientName (action Z, "zero length or dummy") get a keyed
  pseudonym, so studies of one patient stay linked.
* Private attributes are all removed (the default), or, with ``private="retain-safe"``,
  those of PS3.15 Table E.3.10-1 are kept (Retain Safe Private Option, E.3.10; the list
  in ``deid_safe_private.json``, matched by private creator, group and element
  offset); ``keep_private`` names further private tags to keep.
* With ``shift_dates``, every DA/DT attribute of the table is shifted by a
  per-patient offset of -1 to -365 days from HMAC(secret, PatientID), and
  times are kept (Retain Longitudinal Temporal Information with Modified Dates
  Option, PS3.15 E.3.6); otherwise dates and times follow the table.
* Pixel data are never touched (bit-exact), so images whose pixels may show
  identifying text or a face are refused unless ``allow_burned_in``, and then listed
  (report, log, CLI): BurnedInAnnotation YES, RecognizableVisualFeatures YES,
  secondary capture SOP classes (screen captures, scanned documents) and
  ConversionType WSD/SD/SI/DRW/DV (PS3.15 E.1.1 item 6 leaves pixel PHI to the
  application; PS3.3 C.8.6.1 Conversion Type). A CSV log records each change with a
  keyed hash of the old value, never the value itself.
* Every output file (DICOM and log) is written to a hidden temporary name and renamed
  when complete (:mod:`cardiolens.io.atomic`): an interrupted run leaves no file that
  looks complete, and a rerun replaces what was written.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from cardiolens import __version__
from cardiolens.core.errors import DicomError, InputError, ParameterError
from cardiolens.io.atomic import atomic_path, remove_partials
from cardiolens.io.dicom_files import quiet_pydicom, read_dicom

__all__ = [
    "Action",
    "DeidentificationReport",
    "PRIVATE_OPTIONS",
    "ProfileEntry",
    "basic_profile",
    "deidentify",
    "pixel_phi_reason",
    "profile_entry",
    "resolve_action",
    "safe_private_attributes",
]

logger = logging.getLogger(__name__)

LOG_NAME = "deidentification_log.csv"
MIN_SECRET_LENGTH = 8
DUMMY_BY_VR = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "PN": "ANONYMOUS",
    "IS": "0",
    "DS": "0",
}
PRIVATE_OPTIONS = ("remove", "retain-safe")
#: Secondary capture SOP classes (PS3.4 B.5): screen captures, scanned documents, drawings.
SECONDARY_CAPTURE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture",
}
#: ConversionType values (PS3.3 C.8.6.1) of captured screens and scanned pages.
SCREEN_CONVERSION_TYPES = {
    "WSD": "workstation screen capture",
    "SD": "scanned document",
    "SI": "scanned image",
    "DRW": "drawing",
    "DV": "digitized video",
}
TEXT_VRS = {"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR"}
#: Attributes that are Type 1 or Type 2 in the CT, NM and PET image IODs (PS3.3 A.3, A.5, A.21),
#: which decide compound action codes (PS3.15 E.3.1).
TYPE1_BY_MODALITY = {"PT": {"SeriesDate", "SeriesTime"}}
TYPE2_ALL = {
    "AccessionNumber", "ReferringPhysicianName", "StudyDate", "StudyTime", "StudyID",
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "ContentDate", "ContentTime",
    "ContrastBolusAgent",
}  # fmt: skip
TYPE2_BY_MODALITY = {"PT": {"AcquisitionDate", "AcquisitionTime"}}


class Action(StrEnum):
    """Action codes of PS3.15 E.3.1 (after resolving compound codes)."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


@dataclass(frozen=True)
class ProfileEntry:
    """One row of Table E.1-1: tag (``"0010,0010"``, ``xx`` for repeating groups), names, action."""

    tag: str
    keyword: str
    name: str
    action: str

    def matches(self, tag: BaseTag) -> bool:
        text = f"{tag.group:04X},{tag.element:04X}"
        return all(p in ("x", t) for p, t in zip(self.tag, text, strict=True))


@cache
def basic_profile() -> tuple[ProfileEntry, ...]:
    """The basic profile attribute table shipped with cardiolens."""
    text = resources.files("cardiolens.io").joinpath("deid_basic_profile.json").read_text()
    return tuple(ProfileEntry(**row) for row in json.loads(text)["attributes"])


@cache
def _profile_index() -> tuple[dict[int, ProfileEntry], tuple[ProfileEntry, ...]]:
    exact = {int(e.tag.replace(",", ""), 16): e for e in basic_profile() if "x" not in e.tag}
    return exact, tuple(e for e in basic_profile() if "x" in e.tag)


def profile_entry(tag: BaseTag) -> ProfileEntry | None:
    """The table row governing ``tag``, or None when the profile does not list it."""
    exact, repeating = _profile_index()
    entry = exact.get(int(tag))
    if entry is None:
        entry = next((e for e in repeating if e.matches(tag)), None)
    return entry


def resolve_action(entry: ProfileEntry, modality: str) -> str:
    """One action code (or ``U*``) for ``entry`` in an image of ``modality``.

    Compound codes follow PS3.15 E.3.1: X unless the attribute is Type 1
    (then D, or U* for reference sequences) or Type 2 (then Z) in the IOD.
    """
    parts = entry.action.split("/")
    if len(parts) == 1:
        return parts[0]
    type1 = entry.keyword in TYPE1_BY_MODALITY.get(modality, set())
    type2 = entry.keyword in TYPE2_ALL | TYPE2_BY_MODALITY.get(modality, set())
    if type1:
        for code in ("D", "U*"):
            if code in parts:
                return code
    if (type1 or type2) and "Z" in parts:
        return "Z"
    return parts[0]


@cache
def safe_private_attributes() -> frozenset[tuple[str, int, int]]:
    """``(private creator, group, element offset)`` of PS3.15 Table E.3.10-1 kept by
    the Retain Safe Private Option."""
    text = resources.files("cardiolens.io").joinpath("deid_safe_private.json").read_text()
    return frozenset(
        (row["creator"], int(row["group"], 16), int(row["element"], 16))
        for row in json.loads(text)["attributes"]
    )


def _safe_private_tags(ds: Dataset) -> set[int]:
    """Tags of ``ds``'s private attributes on the safe list, with their creator elements."""
    safe = safe_private_attributes()
    kept: set[int] = set()
    for elem in ds:
        tag = elem.tag
        if not tag.is_private or tag.element < 0x1000:  # 0x0010-0x00FF: creators
            continue
        creator_tag = (tag.group << 16) | (tag.element >> 8)
        creator = ds.get(creator_tag)
        name = str(creator.value).strip() if creator is not None else ""
        if (name, tag.group, tag.element & 0xFF) in safe:
            kept.update((int(tag), creator_tag))
    return kept


def pixel_phi_reason(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may show identifying text or a face, or None.

    BurnedInAnnotation (0028,0301) or RecognizableVisualFeatures (0028,0302) YES, a
    secondary capture SOP class, or a screen/scan ConversionType (0008,0064).
    """
    reasons = []
    for keyword in ("BurnedInAnnotation", "RecognizableVisualFeatures"):
        if str(ds.get(keyword, "")).strip().upper() == "YES":
            reasons.append(f"{keyword} YES")
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    if sop_class in SECONDARY_CAPTURE_CLASSES:
        reasons.append(f"{SECONDARY_CAPTURE_CLASSES[sop_class]} (screen capture or scan)")
    conversion = str(ds.get("ConversionType", "")).strip().upper()
    if conversion in SCREEN_CONVERSION_TYPES:
        reasons.append(f"ConversionType {conversion} ({SCREEN_CONVERSION_TYPES[conversion]})")
    return "; ".join(reasons) or None


@dataclass(frozen=True)
class DeidentificationReport:
    """What :func:`deidentify` did.

    ``pixel_phi`` lists ``{file: reason}`` for the images whose pixels may show
    identifying text or a face, processed because ``allow_burned_in`` was given
    (their pixels were not cleaned); ``burned_in_allowed`` holds the same files.
    """

    output_path: Path
    files_written: tuple[Path, ...]
    n_changes: int
    log_path: Path
    skipped: dict[str, str] = field(default_factory=dict)
    burned_in_allowed: tuple[Path, ...] = ()
    shift_dates: bool = False
    pixel_phi: dict[str, str] = field(default_factory=dict)
    private: str = "remove"


class _Keys:
    """Keyed (HMAC-SHA256) UIDs, pseudonyms, date offsets and value hashes for one secret."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def _digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    def uid(self, uid: str) -> str:
        return "2.25." + str(int.from_bytes(self._digest("uid", uid.strip())[:16], "big"))

    def pseudonym(self, patient_id: str) -> str:
        return "CL" + self._digest("patient", patient_id).hex()[:16].upper()

    def date_offset_days(self, patient_id: str) -> int:
        return -(1 + int.from_bytes(self._digest("date", patient_id)[:4], "big") % 365)

    def value_hash(self, value: object) -> str:
        return self._digest("value", str(value)).hex()[:16]


def _shift_date(value: str, days: int) -> str | None:
    """DA ``YYYYMMDD`` or DT ``YYYYMMDD...`` shifted by ``days``; None when unparseable."""
    text = str(value).strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        shifted = date(int(text[:4]), int(text[4:6]), int(text[6:8])) + timedelta(days=days)
    except ValueError:
        return None
    return shifted.strftime("%Y%m%d") + text[8:]


def _parse_private_tags(keep_private: Sequence[str]) -> set[int]:
    tags = set()
    for text in keep_private:
        digits = re.sub(r"[()\s,]", "", text)
        if not re.fullmatch(r"[0-9A-Fa-f]{8}", digits) or int(digits[:4], 16) % 2 == 0:
            raise ParameterError(
                f"--keep-private expects a private tag like 0013,1010 (odd group); got {text!r}"
            )
        tag = int(digits, 16)
        tags.add(tag)
        group, element = tag >> 16, tag & 0xFFFF
        tags.add((group << 16) | (element >> 8))  # its private creator element
    return tags


class _Cleaner:
    """Applies the profile to data sets and records every change."""

    def __init__(
        self,
        keys: _Keys,
        shift_dates: bool,
        keep_private: set[int],
        writer: csv.writer,
        retain_safe_private: bool = False,
    ) -> None:
        self.keys = keys
        self.shift_dates = shift_dates
        self.keep_private = keep_private
        self.retain_safe_private = retain_safe_private
        self.writer = writer
        self.n_changes = 0
        self.file = ""
        self.modality = ""
        self.offset_days = 0
        self.pseudonym = ""

    def _log(self, elem: DataElement, action: str, old: object, new: object = "") -> None:
        self.n_changes += 1
        self.writer.writerow(
            [self.file, f"({elem.tag.group:04X},{elem.tag.element:04X})", elem.keyword or elem.name,
             action, self.keys.value_hash(old), new]
        )  # fmt: skip

    def _replace_uids(self, elem: DataElement) -> None:
        old = elem.value
        values = list(old) if elem.VM > 1 else [old]
        new = [self.keys.uid(str(v)) for v in values if v]
        elem.value = new if elem.VM > 1 else (new[0] if new else "")
        self._log(elem, "U", old, "\\".join(new))

    def _dummy(self, elem: DataElement) -> None:
        old = elem.value
        if elem.VR == "SQ":
            self._log(elem, "D", "sequence", "items cleaned")
            return
        if elem.VR == "UI":
            self._replace_uids(elem)
            return
        if elem.VR in DUMMY_BY_VR:
            elem.value = DUMMY_BY_VR[elem.VR]
        elif elem.VR in TEXT_VRS:
            elem.value = "ANONYMIZED"
        elif elem.VR in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"):
            elem.value = 0
        else:
            elem.value = b""
        self._log(elem, "D", old, elem.value)

    def _zero(self, elem: DataElement) -> None:
        old = elem.value
        if elem.keyword in ("PatientID", "PatientName"):
            elem.value = self.pseudonym
        elif elem.VR == "SQ":
            elem.value = DicomSequence([])
        else:
            elem.value = None
        self._log(
            elem, "Z", old, elem.value if elem.keyword in ("PatientID", "PatientName") else ""
        )

    def _shift(self, elem: DataElement) -> bool:
        """Shift a DA/DT value in place; False when it cannot be parsed."""
        old = elem.value
        values = list(old) if elem.VM > 1 else [old]
        shifted = [_shift_date(v, self.offset_days) for v in values if v]
        if any(s is None for s in shifted):
            return False
        if shifted:
            elem.value = shifted if elem.VM > 1 else shifted[0]
            self._log(elem, f"shift {self.offset_days:+d} d", old, "\\".join(shifted))
        return True

    def clean(self, ds: Dataset) -> None:
        """Apply the profile to ``ds`` and, recursively, to its sequence items."""
        kept_private = self.keep_private | (
            _safe_private_tags(ds) if self.retain_safe_private else set()
        )
        for elem in list(ds):
            tag = elem.tag
            if tag.is_private:
                if int(tag) not in kept_private:
                    self._log(elem, "X (private)", elem.value if elem.VR != "SQ" else "sequence")
                    del ds[tag]
                continue
            if tag.element == 0 and tag.group != 0x0002:  # group lengths are stale after edits
                self._log(elem, "X (group length)", elem.value)
                del ds[tag]
                continue
            entry = profile_entry(tag)
            if entry is not None and not self._apply(ds, elem, entry):
                continue
            if elem.VR == "SQ" and tag in ds:
                for item in ds[tag].value:
                    self.clean(item)

    def _apply(self, ds: Dataset, elem: DataElement, entry: ProfileEntry) -> bool:
        """Apply the entry's action; False when the element was removed."""
        action = resolve_action(entry, self.modality)
        if action in ("K", "U*"):
            return True
        if self.shift_dates and elem.VR in ("DA", "DT") and not elem.is_empty:
            if self._shift(elem):
                return True
            action = "X"
        elif self.shift_dates and elem.VR == "TM":
            return True
        if action == "U":
            if elem.VR == "UI" and not elem.is_empty:
                self._replace_uids(elem)
            return True
        if action == "D":
            self._dummy(elem)
            return True
        if action in ("Z", "C"):  # C: free-text cleaning cannot be automated safely; emptied
            self._zero(elem)
            return True
        self._log(elem, "X", elem.value if elem.VR != "SQ" else "sequence")
        del ds[elem.tag]
        return False


def _mark_deidentified(ds: Dataset, shift_dates: bool, retain_safe_private: bool) -> None:
    """Patient Identity Removed and De-identification Method attributes (PS3.15 E.1.1 item 7)."""
    ds.PatientIdentityRemoved = "YES"
    method = f"cardiolens {__version__} PS3.15 E.1 basic profile"
    options = [("dates shifted", shift_dates), ("safe private retained", retain_safe_private)]
    ds.DeidentificationMethod = method + "".join(f", {text}" for text, on in options if on)
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if shift_dates:
        codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
    if retain_safe_private:
        codes.append(("113111", "Retain Safe Private Option"))
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = DicomSequence(items)
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if shift_dates else "REMOVED"


UID_NAME = re.compile(r"^\d+(\.\d+){2,}$")


def _output_name(relative: Path, keys: _Keys, identifiers: list[str], pseudonym: str) -> Path:
    """``relative`` with UID-like names re-keyed and patient identifiers replaced."""
    parts = []
    for part in relative.parts:
        if UID_NAME.match(part.removesuffix(".dcm")):
            uid = part.removesuffix(".dcm")
            part = keys.uid(uid) + part[len(uid) :]
        else:
            for identifier in identifiers:
                if len(identifier) >= 3 and identifier in part:
                    part = part.replace(identifier, pseudonym)
        parts.append(part)
    return Path(*parts)


def _inputs(input_path: Path) -> tuple[Path, list[Path]]:
    if input_path.is_file():
        return input_path.parent, [input_path]
    if input_path.is_dir():
        files = sorted(
            p for p in input_path.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
        return input_path, files
    raise InputError("no such file or folder", input_path)


def _refuse_pixel_phi(flagged: dict[str, str]) -> None:
    first, reason = next(iter(flagged.items()))
    others = f" and {len(flagged) - 1} more file(s)" if len(flagged) > 1 else ""
    raise DicomError(
        f"the pixels may show identifying text or a face ({reason}){others}; pixel data are "
        "not cleaned: remove these images, or check them and pass --allow-burned-in",
        first,
    )


def _save(ds: Dataset, target: Path) -> None:
    """Write ``ds`` to ``target`` atomically; DicomError when pydicom cannot encode it."""
    try:
        with atomic_path(target) as temporary, quiet_pydicom():
            ds.save_as(temporary)
    except (ValueError, TypeError, AttributeError, OverflowError) as error:
        raise DicomError(
            f"cannot write the de-identified file ({type(error).__name__}: {str(error)[:160]})",
            target,
        ) from None


def deidentify(
    input_path: str | Path,
    output_path: str | Path,
    *,
    secret: str,
    shift_dates: bool = False,
    allow_burned_in: bool = False,
    keep_private: Sequence[str] = (),
    private: str = "remove",
) -> DeidentificationReport:
    """De-identify a DICOM file or folder into ``output_path`` (folder structure kept).

    Parameters
    ----------
    input_path
        DICOM file or folder (searched recursively; non-DICOM files are not copied).
    output_path
        Output folder (created). A ``deidentification_log.csv`` is written there.
    secret
        Key of the HMAC that maps UIDs, pseudonyms and date offsets (>= 8 characters);
        keep it to add studies later with consistent UIDs.
    shift_dates
        Shift dates by a per-patient offset (-1 to -365 days) and keep times.
    allow_burned_in
        Process images whose pixels may show PHI (see :func:`pixel_phi_reason`) after
        checking them; they are listed in the report and the log.
    keep_private
        Private tags to keep, as ``"GGGG,EEEE"``.
    private
        ``"remove"`` (default) every private attribute, or ``"retain-safe"`` to keep
        those of PS3.15 Table E.3.10-1 (Retain Safe Private Option).

    Raises
    ------
    DicomError
        An image whose pixels may show PHI (naming it) or a single corrupt file.
    """
    if len(secret or "") < MIN_SECRET_LENGTH:
        raise ParameterError(
            f"the de-identification secret must have at least {MIN_SECRET_LENGTH} characters; "
            f"pass --secret or set CARDIOLENS_DEID_SECRET"
        )
    if private not in PRIVATE_OPTIONS:
        raise ParameterError(
            f"--private must be one of {', '.join(PRIVATE_OPTIONS)}; got {private!r}"
        )
    input_path, output_path = Path(input_path), Path(output_path)
    root, candidates = _inputs(input_path)
    if output_path.resolve() == root.resolve() or root.resolve() in output_path.resolve().parents:
        raise ParameterError(f"output {output_path} must lie outside the input folder {root}")
    keys = _Keys(secret)
    kept_private = _parse_private_tags(keep_private)
    datasets: list[tuple[Path, Dataset]] = []
    skipped: dict[str, str] = {}
    for path in candidates:
        try:
            datasets.append((path, read_dicom(path)))
        except DicomError as error:
            if input_path.is_file():
                raise
            skipped[str(path)] = error.message
    flagged = {str(p): reason for p, ds in datasets if (reason := pixel_phi_reason(ds))}
    if flagged and not allow_burned_in:
        _refuse_pixel_phi(flagged)
    if not datasets:
        raise InputError("no DICOM file to de-identify", input_path)
    output_path.mkdir(parents=True, exist_ok=True)
    removed = remove_partials(output_path)
    if removed:
        logger.warning(
            "removed %d partial file(s) of an interrupted run in %s", removed, output_path
        )
    log_path = output_path / LOG_NAME
    written: list[Path] = []
    with atomic_path(log_path) as log_temporary, open(log_temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "tag", "keyword", "action", "old_value_hmac", "new_value"])
        cleaner = _Cleaner(keys, shift_dates, kept_private, writer, private == "retain-safe")
        for path, ds in datasets:
            patient_id = str(ds.get("PatientID", ""))
            identifiers = [patient_id, *re.split(r"[\^ ]+", str(ds.get("PatientName", "")))]
            cleaner.pseudonym = keys.pseudonym(patient_id)
            cleaner.offset_days = keys.date_offset_days(patient_id)
            cleaner.modality = str(ds.get("Modality", ""))
            relative = _output_name(path.relative_to(root), keys, identifiers, cleaner.pseudonym)
            cleaner.file = str(relative)
            if str(path) in flagged:
                writer.writerow(
                    [cleaner.file, "", "PixelData", "NOT CLEANED", "", flagged[str(path)]]
                )
            cleaner.clean(ds)
            if "SOPInstanceUID" in ds and hasattr(ds, "file_meta"):
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            _mark_deidentified(ds, shift_dates, private == "retain-safe")
            target = output_path / relative
            _save(ds, target)
            written.append(target)
    for path, reason in skipped.items():
        logger.warning("not copied (not DICOM): %s: %s", path, reason)
    logger.info("de-identified %d file(s) into %s", len(written), output_path)
    return DeidentificationReport(
        output_path=output_path,
        files_written=tuple(written),
        n_changes=cleaner.n_changes,
        log_path=log_path,
        skipped=skipped,
        burned_in_allowed=tuple(Path(p) for p in flagged),
        shift_dates=shift_dates,
        pixel_phi=flagged,
        private=private,
    )
