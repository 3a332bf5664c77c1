"""Typed feature schema: inferred from a training table, frozen into the model, enforced.

A :class:`FeatureSchema` lists every predictor with its kind (numeric, binary,
categorical), unit and allowed range. It is inferred once from the training table
(:func:`infer_schema`), stored as ``schema.json`` in the model directory and every
table given to the model afterwards passes :meth:`FeatureSchema.validate`, which
either returns a float matrix in training column order or raises
:class:`~cardiolens.core.errors.SchemaError` naming the column, the row(s) and the fix.

Missing values are allowed (the boosted models handle them natively, the logistic
baseline imputes) and counted per column.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from cardiolens.core.errors import InputError, SchemaError

logger = logging.getLogger(__name__)

_MAX_ROWS_LISTED = 5
_RANGE_MARGIN = 0.5
"""Inferred numeric ranges extend the training range by this fraction of its width."""


class ColumnKind(StrEnum):
    """How a predictor is typed and encoded."""

    NUMERIC = "numeric"
    BINARY = "binary"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnSpec:
    """One predictor column.

    Attributes
    ----------
    name
        Column name in the input table.
    kind
        Numeric, binary (0/1) or categorical (a closed set of codes).
    unit
        Unit of a numeric column ("years", "mmHg"), "" when dimensionless.
    minimum, maximum
        Allowed closed range of a numeric column, in ``unit``.
    categories
        Allowed codes of a binary or categorical column, as strings of the raw values;
        the model sees the code's index in this tuple.
    description
        Clinical meaning, shown in the model card.
    """

    name: str
    kind: ColumnKind
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    description: str = ""


# Clinically plausible limits for common predictors (physiological extremes, not
# reference intervals): values outside are data-entry errors, not rare patients.
KNOWN_COLUMNS: dict[str, ColumnSpec] = {
    spec.name: spec
    for spec in (
        ColumnSpec("age", ColumnKind.NUMERIC, "years", 0.0, 120.0, description="age"),
        ColumnSpec(
            "sex",
            ColumnKind.BINARY,
            "",
            None,
            None,
            ("0", "1"),
            description="sex (1 male, 0 female)",
        ),
        ColumnSpec(
            "cp",
            ColumnKind.CATEGORICAL,
            categories=("1", "2", "3", "4"),
            description="chest pain: 1 typical, 2 atypical angina, 3 non-anginal, 4 asymptomatic",
        ),
        ColumnSpec(
            "trestbps", ColumnKind.NUMERIC, "mmHg", 50.0, 260.0, description="resting systolic BP"
        ),
        ColumnSpec(
            "chol", ColumnKind.NUMERIC, "mg/dL", 50.0, 800.0, description="serum total cholesterol"
        ),
        ColumnSpec(
            "fbs",
            ColumnKind.BINARY,
            "",
            None,
            None,
            ("0", "1"),
            description="fasting glucose > 120 mg/dL",
        ),
        ColumnSpec(
            "restecg",
            ColumnKind.CATEGORICAL,
            categories=("0", "1", "2"),
            description="resting ECG: 0 normal, 1 ST-T abnormality, 2 LV hypertrophy",
        ),
        ColumnSpec(
            "thalach",
            ColumnKind.NUMERIC,
            "beats/min",
            30.0,
            250.0,
            description="peak exercise heart rate",
        ),
        ColumnSpec(
            "exang",
            ColumnKind.BINARY,
            "",
            None,
            None,
            ("0", "1"),
            description="exercise-induced angina",
        ),
        ColumnSpec(
            "oldpeak", ColumnKind.NUMERIC, "mm", -5.0, 10.0, description="exercise ST depression"
        ),
        ColumnSpec(
            "slope",
            ColumnKind.CATEGORICAL,
            categories=("1", "2", "3"),
            description="peak exercise ST slope: 1 up, 2 flat, 3 down",
        ),
        ColumnSpec(
            "ca",
            ColumnKind.NUMERIC,
            "vessels",
            0.0,
            3.0,
            description="vessels coloured by fluoroscopy",
        ),
        ColumnSpec(
            "thal",
            ColumnKind.CATEGORICAL,
            categories=("3", "6", "7"),
            description="thallium scan: 3 normal, 6 fixed, 7 reversible defect",
        ),
        ColumnSpec("bmi", ColumnKind.NUMERIC, "kg/m2", 10.0, 90.0, description="body-mass index"),
        ColumnSpec(
            "heart_rate", ColumnKind.NUMERIC, "beats/min", 20.0, 300.0, description="heart rate"
        ),
        ColumnSpec(
            "lvef_pct", ColumnKind.NUMERIC, "%", 0.0, 100.0, description="LV ejection fraction"
        ),
        ColumnSpec(
            "sysbp", ColumnKind.NUMERIC, "mmHg", 40.0, 300.0, description="systolic blood pressure"
        ),
        ColumnSpec(
            "diasbp", ColumnKind.NUMERIC, "mmHg", 0.0, 200.0, description="diastolic blood pressure"
        ),
        ColumnSpec("hr", ColumnKind.NUMERIC, "beats/min", 20.0, 300.0, description="heart rate"),
    )
}


@dataclass(frozen=True)
class MissingValueReport:
    """Missing values per column of a validated table (only columns with any)."""

    n_rows: int
    missing_per_column: dict[str, int] = field(default_factory=dict)

    @property
    def total_missing(self) -> int:
        """Number of missing cells."""
        return int(sum(self.missing_per_column.values()))


def _code(value: object) -> str:
    """Canonical string of a categorical value: 1, 1.0 and '1' are the same code."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def _rows(index: pd.Index) -> str:
    labels = [str(label) for label in index[:_MAX_ROWS_LISTED]]
    more = f" and {len(index) - _MAX_ROWS_LISTED} more" if len(index) > _MAX_ROWS_LISTED else ""
    return f"row{'s' if len(index) > 1 else ''} {', '.join(labels)}{more}"


@dataclass(frozen=True)
class FeatureSchema:
    """The predictors a model was trained on, in order, with types and allowed values."""

    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> list[str]:
        """Column names in model order."""
        return [column.name for column in self.columns]

    def validate(self, table: pd.DataFrame) -> tuple[pd.DataFrame, MissingValueReport]:
        """Check a table against the schema and encode it for the models.

        Parameters
        ----------
        table
            Input rows; extra columns (identifiers, outcomes) are ignored. Row labels in
            errors are the table's index labels (0-based data rows for a CSV read with
            pandas defaults).

        Returns
        -------
        encoded
            Float table with the schema's columns in order; categorical values replaced
            by their code index; missing values as NaN.
        missing
            Missing-value counts per column.

        Raises
        ------
        SchemaError
            A required column is absent (with the closest unknown column as a
            suggestion), a numeric column holds text, a value lies outside its allowed
            range or a categorical column holds an unseen code.
        """
        absent = [name for name in self.names if name not in table.columns]
        if absent:
            unknown = [str(column) for column in table.columns if column not in self.names]
            hints = []
            for name in absent:
                close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.5)
                close = close or [u for u in unknown if u.lower() == name.lower()]
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise SchemaError(
                f"missing required column(s) {', '.join(hints)}; the model expects "
                f"{self.names}; rename or add the column(s)"
            )
        encoded = pd.DataFrame(index=table.index)
        for spec in self.columns:
            encoded[spec.name] = _encode_column(table[spec.name], spec)
        missing = {name: int(n) for name, n in encoded.isna().sum().items() if n}
        if missing:
            logger.info("missing values per column: %s", missing)
        return encoded, MissingValueReport(n_rows=len(table), missing_per_column=missing)

    def to_dict(self) -> dict:
        """JSON-ready description (enums as strings)."""
        return {
            "columns": [
                {**asdict(spec), "kind": spec.kind.value, "categories": list(spec.categories)}
                for spec in self.columns
            ]
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(
                ColumnSpec(
                    **{
                        **column,
                        "kind": ColumnKind(column["kind"]),
                        "categories": tuple(column["categories"]),
                    }
                )
                for column in data["columns"]
            )
        )

    def save(self, path: str | Path) -> None:
        """Write ``schema.json``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSchema:
        """Read a ``schema.json`` written by :meth:`save`.

        Raises
        ------
        InputError
            Naming the file, when it is not JSON or not a schema of this form.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise InputError(f"cannot read the feature schema ({str(error)[:160]})", path) from None
        problem = _schema_problem(data)
        if problem:
            raise InputError(f"not a cardiolens feature schema: {problem}", path)
        return cls.from_dict(data)


def _schema_problem(data: object) -> str | None:
    """What makes ``data`` unlike :meth:`FeatureSchema.to_dict`'s output, or None."""
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, list) or not columns:
        return "'columns' must be a non-empty list"
    fields = {f.name for f in dataclasses.fields(ColumnSpec)}
    kinds = {k.value for k in ColumnKind}
    for index, column in enumerate(columns):
        required = {"name", "kind", "categories"}
        if not isinstance(column, dict) or not fields.issuperset(column) or required - set(column):
            return (
                f"column {index} must be an object with keys {sorted(required)} and others "
                f"among {sorted(fields - required)}"
            )
        kind = column["kind"]
        if not isinstance(column["name"], str) or not isinstance(kind, str) or kind not in kinds:
            return f"column {index} needs a text name and a kind among {sorted(kinds)}"
        bounds = (column.get("minimum"), column.get("maximum"))
        if any(
            b is not None and (isinstance(b, bool) or not isinstance(b, int | float))
            for b in bounds
        ):
            return f"column {column['name']!r}: minimum and maximum must be numbers or null"
        categories = column["categories"]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            return f"column {column['name']!r}: categories must be a list of text codes"
        if not all(isinstance(column.get(k, ""), str) for k in ("unit", "description")):
            return f"column {column['name']!r}: unit and description must be text"
    return None


def _encode_column(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Validate one column and return it as floats (category index for coded columns)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        present = values.notna()  # fast path: no text to parse
    else:
        present = values.notna() & (values.astype(str).str.strip() != "")
    if spec.kind is ColumnKind.NUMERIC:
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        text = present & numbers.isna()
        if text.any():
            examples = ", ".join(repr(v) for v in values[text].unique()[:3])
            raise SchemaError(
                f"column {spec.name!r} must be numeric ({spec.unit or 'no unit'}) but holds "
                f"{examples} at {_rows(values.index[text])}"
            )
        low = -np.inf if spec.minimum is None else spec.minimum
        high = np.inf if spec.maximum is None else spec.maximum
        outside = numbers.notna() & ((numbers < low) | (numbers > high))
        if outside.any():
            examples = ", ".join(f"{v:g}" for v in numbers[outside].unique()[:3])
            raise SchemaError(
                f"column {spec.name!r} value {examples} at {_rows(values.index[outside])} is "
                f"outside the allowed range {low:g} to {high:g} {spec.unit}".rstrip()
                + "; correct the value or leave it empty (missing)"
            )
        return numbers.astype(float)
    codes = values.where(present).astype(object).map(lambda v: _code(v) if pd.notna(v) else np.nan)
    lookup = {code: float(i) for i, code in enumerate(spec.categories)}
    unseen = codes.notna() & ~codes.isin(list(lookup))
    if unseen.any():
        examples = ", ".join(repr(v) for v in codes[unseen].unique()[:3])
        raise SchemaError(
            f"column {spec.name!r} holds {examples} at {_rows(values.index[unseen])}; "
            f"allowed codes are {list(spec.categories)}"
        )
    return codes.map(lookup).astype(float)


def infer_schema(table: pd.DataFrame, features: list[str] | None = None) -> FeatureSchema:
    """Infer a :class:`FeatureSchema` from a training table.

    Known clinical names (:data:`KNOWN_COLUMNS`: age, trestbps, chol, thalach, ...) get
    their plausibility limits and codes; the training data must respect them. Other
    numeric columns with only 0/1 values are binary; other numeric columns get the
    training range widened on each side by half of the larger of its width and its
    largest absolute value (not below 0 when the training data are non-negative); text columns with at most 50 distinct values are
    categorical.

    Parameters
    ----------
    table
        Training rows.
    features
        Predictor columns; default all columns.

    Raises
    ------
    SchemaError
        A listed feature is absent, a column is empty, or a text column has too many
        distinct values to be a category.
    """
    features = list(table.columns) if features is None else list(features)
    if not features:
        raise SchemaError("no predictor columns given")
    specs = []
    for name in features:
        if name not in table.columns:
            raise SchemaError(f"feature column {name!r} is not in the table {list(table.columns)}")
        values = table[name]
        if values.notna().sum() == 0:
            raise SchemaError(f"column {name!r} holds no values; drop it from the features")
        if name in KNOWN_COLUMNS:
            spec = KNOWN_COLUMNS[name]
        else:
            spec = _infer_column(name, values)
        _encode_column(values, spec)
        specs.append(spec)
    return FeatureSchema(tuple(specs))


def _infer_column(name: str, values: pd.Series) -> ColumnSpec:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() == values.notna().sum():
        observed = set(numbers.dropna().unique())
        if observed <= {0.0, 1.0}:
            return ColumnSpec(name, ColumnKind.BINARY, categories=("0", "1"))
        low, high = float(numbers.min()), float(numbers.max())
        margin = _RANGE_MARGIN * max(high - low, abs(high), 1e-9)
        minimum = max(low - margin, 0.0) if low >= 0 else low - margin
        return ColumnSpec(name, ColumnKind.NUMERIC, "", minimum, high + margin)
    categories = sorted({_code(v) for v in values.dropna()})
    if len(categories) > 50:
        raise SchemaError(
            f"column {name!r} holds text with {len(categories)} distinct values; "
            "only numeric or categorical (<= 50 codes) predictors are supported"
        )
    return ColumnSpec(name, ColumnKind.CATEGORICAL, categories=tuple(categories))
