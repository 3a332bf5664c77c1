"""Core objects shared by every stage: Volume, Study, the AHA segment model, errors."""

from cardiolens.core.aha import SEGMENT_NAMES, SEGMENT_TERRITORY, Territory, aha_segment
from cardiolens.core.errors import (
    AnalysisError,
    AuditError,
    CardiolensError,
    DicomError,
    GeometryError,
    InputError,
    ModalityError,
    ParameterError,
    SchemaError,
)
from cardiolens.core.study import Series, SeriesRole, Study
from cardiolens.core.volume import Volume

__all__ = [
    "AnalysisError",
    "AuditError",
    "CardiolensError",
    "DicomError",
    "GeometryError",
    "InputError",
    "ModalityError",
    "ParameterError",
    "SEGMENT_NAMES",
    "SEGMENT_TERRITORY",
    "SchemaError",
    "Series",
    "SeriesRole",
    "Study",
    "Territory",
    "Volume",
    "aha_segment",
]
