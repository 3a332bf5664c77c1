"""Which series of a study the nuclear analysis reads: one rule for ``nuclear`` and ``analyze``.

Rule (:func:`select_perfusion_inputs`), per state (stress, rest):

1. The series whose role is that state (``spect_stress``/``pet_stress``,
   ``spect_rest``/``pet_rest``). Emission (NM, PT) series with no known role are
   given, in file order, the state named by ``unassigned`` (``auto``: stress when
   no stress series is known, else rest when no rest series is known; further
   ones are left out). ``include_other`` also treats unknown-role images of
   modality OT (NIfTI/NRRD files carry no modality) as emission images: the
   ``nuclear`` command does, since its user declares the file a perfusion study.
2. Of these, a gated series is preferred: its gates give the function.
3. Perfusion is scored on the ungated (summed) reconstruction when the study
   holds one on the same grid, as cameras and the phantom write it: it is
   reconstructed from all counts at once, like the images the normal databases
   were built from. Otherwise the sum of the gates is scored.

:func:`nuclear_study` picks, among several studies in one folder (a SPECT and a
CT under two Study UIDs), the one holding emission images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cardiolens.core.errors import ModalityError, ParameterError
from cardiolens.core.study import Series, SeriesRole, Study

__all__ = [
    "EMISSION_MODALITIES",
    "PerfusionInputs",
    "nuclear_study",
    "select_perfusion_inputs",
]

EMISSION_MODALITIES = ("NM", "PT")
STATE_ROLES: dict[str, tuple[SeriesRole, ...]] = {
    "stress": (SeriesRole.SPECT_STRESS, SeriesRole.PET_STRESS),
    "rest": (SeriesRole.SPECT_REST, SeriesRole.PET_REST),
}
UNASSIGNED_CHOICES = ("auto", "stress", "rest")


@dataclass(frozen=True)
class PerfusionInputs:
    """The series analysed per state and the series merged into them.

    ``stress``/``rest``: a Series whose ``volume`` is the image scored and whose
    ``gates`` give the function (None when absent); ``summed``: per state, the
    summed series whose volume was used; ``rule``: one line per state saying what
    was chosen.
    """

    stress: Series | None
    rest: Series | None
    summed: dict[str, Series]
    rule: dict[str, str]

    @property
    def companions(self) -> tuple[Series, ...]:
        """The summed series merged into the analysed ones."""
        return tuple(self.summed.values())

    def source(self, state: str) -> Series | None:
        """The series whose grid the results of ``state`` are on (the summed one when used)."""
        return self.summed.get(state) or getattr(self, state)

    def series(self) -> list[Series]:
        """Every series the analysis reads."""
        return [s for s in (self.stress, self.rest, *self.companions) if s is not None]


def _emission(series: Series, include_other: bool = False) -> bool:
    modalities = (*EMISSION_MODALITIES, "OT") if include_other else EMISSION_MODALITIES
    return series.modality.upper() in modalities


def _candidates(study: Study, unassigned: str, include_other: bool) -> dict[str, list[Series]]:
    found: dict[str, list[Series]] = {"stress": [], "rest": []}
    for series in study.series:
        for state, roles in STATE_ROLES.items():
            if series.role in roles:
                found[state].append(series)
    unknown = [
        s for s in study.series if s.role == SeriesRole.UNKNOWN and _emission(s, include_other)
    ]
    for series in unknown:
        if unassigned != "auto":
            found[unassigned].append(series)
            continue
        state = next((name for name in ("stress", "rest") if not found[name]), None)
        if state is not None:
            found[state].append(series)
    return found


def _choose(found: Sequence[Series]) -> tuple[Series | None, Series | None, str]:
    if not found:
        return None, None, "absent"
    gated = [s for s in found if s.n_gates]
    summed = [s for s in found if not s.n_gates]
    if gated and summed:
        match = next((s for s in summed if s.volume.same_geometry(gated[0].volume)), None)
        if match is not None:
            combined = replace(gated[0], volume=match.volume)
            return (
                combined,
                match,
                f"perfusion from the summed series {match.series_uid}, function from the "
                f"{gated[0].n_gates} gates of {gated[0].series_uid}",
            )
    if gated:
        return (
            gated[0],
            None,
            f"perfusion from the sum of the {gated[0].n_gates} gates of {gated[0].series_uid}",
        )
    return summed[0], None, f"ungated series {summed[0].series_uid} (no function)"


def select_perfusion_inputs(
    study: Study, unassigned: str = "auto", *, include_other: bool = False
) -> PerfusionInputs:
    """The stress and rest series of ``study`` by the rule in the module docstring.

    Both states are None when the study holds no perfusion image.
    """
    if unassigned not in UNASSIGNED_CHOICES:
        raise ParameterError(
            f"--state must be one of {', '.join(UNASSIGNED_CHOICES)}; got {unassigned!r}"
        )
    found = _candidates(study, unassigned, include_other)
    chosen = {state: _choose(found[state]) for state in ("stress", "rest")}
    return PerfusionInputs(
        stress=chosen["stress"][0],
        rest=chosen["rest"][0],
        summed={state: c[1] for state, c in chosen.items() if c[1] is not None},
        rule={state: c[2] for state, c in chosen.items()},
    )


def nuclear_study(studies: Sequence[Study], *, include_other: bool = True) -> Study:
    """The study holding emission images (the most emission series) among ``studies``.

    Raises
    ------
    ModalityError
        No study holds an emission image.
    """
    counts = [sum(_emission(s, include_other) for s in study.series) for study in studies]
    if not counts or max(counts) == 0:
        found = ", ".join(sorted({s.modality for st in studies for s in st.series})) or "none"
        raise ModalityError(
            f"no SPECT (NM) or PET (PT) image to analyse (modalities found: {found}); "
            "'cardiolens nuclear' needs a myocardial perfusion study"
        )
    return studies[max(range(len(studies)), key=counts.__getitem__)]
