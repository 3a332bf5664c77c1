"""Feature schema: inference, encoding, and the errors a user sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cardiolens.core.errors import SchemaError
from cardiolens.risk.schema import ColumnKind, FeatureSchema, infer_schema


@pytest.fixture()
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "age": rng.uniform(30, 80, n),
            "sex": rng.integers(0, 2, n),
            "thal": rng.choice([3, 6, 7], n).astype(float),
            "chol": np.where(np.arange(n) % 10 == 0, np.nan, rng.uniform(150, 300, n)),
            "score": rng.uniform(10, 20, n),
            "smoker": rng.choice(["yes", "no"], n),
        }
    )


def test_inferred_kinds_units_and_ranges(table):
    schema = infer_schema(table)
    spec = dict(zip(schema.names, schema.columns, strict=True))
    assert spec["age"].kind is ColumnKind.NUMERIC and spec["age"].unit == "years"
    assert (spec["age"].minimum, spec["age"].maximum) == (0.0, 120.0)
    assert spec["sex"].kind is ColumnKind.BINARY
    assert spec["thal"].categories == ("3", "6", "7")
    assert spec["smoker"].kind is ColumnKind.CATEGORICAL and spec["smoker"].categories == (
        "no",
        "yes",
    )
    # unknown numeric column: widened by half of max(width, |max|), not below 0
    low, high = table["score"].min(), table["score"].max()
    assert spec["score"].minimum == pytest.approx(max(low - 0.5 * high, 0.0))
    assert spec["score"].maximum == pytest.approx(1.5 * high)


def test_validate_encodes_and_counts_missing(table):
    schema = infer_schema(table)
    encoded, missing = schema.validate(table)
    assert list(encoded.columns) == schema.names
    assert set(encoded["thal"].dropna()) <= {0.0, 1.0, 2.0}
    assert missing.missing_per_column == {"chol": 4}
    assert missing.total_missing == 4


def test_round_trip_json(table, tmp_path):
    schema = infer_schema(table)
    schema.save(tmp_path / "schema.json")
    assert FeatureSchema.load(tmp_path / "schema.json") == schema


def test_renamed_column_suggests_the_closest_name(table):
    schema = infer_schema(table)
    with pytest.raises(SchemaError, match=r"'chol' \(did you mean 'cholesterol'\?\)"):
        schema.validate(table.rename(columns={"chol": "cholesterol"}))


def test_missing_column_is_named(table):
    schema = infer_schema(table)
    with pytest.raises(SchemaError, match="missing required column.*'score'"):
        schema.validate(table.drop(columns="score"))


def test_string_in_numeric_column_names_column_and_row(table):
    schema = infer_schema(table)
    bad = table.astype({"chol": object})
    bad.loc[7, "chol"] = "high"
    with pytest.raises(SchemaError, match=r"column 'chol' must be numeric.*'high' at row 7"):
        schema.validate(bad)


def test_age_400_is_out_of_range(table):
    schema = infer_schema(table)
    bad = table.copy()
    bad.loc[3, "age"] = 400
    with pytest.raises(
        SchemaError, match=r"column 'age' value 400 at row 3 is outside .*0 to 120 years"
    ):
        schema.validate(bad)


def test_unseen_category(table):
    schema = infer_schema(table)
    bad = table.copy()
    bad.loc[5, "thal"] = 4
    with pytest.raises(SchemaError, match=r"column 'thal' holds '4' at row 5; allowed codes"):
        schema.validate(bad)


def test_training_data_must_respect_clinical_limits(table):
    bad = table.copy()
    bad.loc[0, "age"] = -3
    with pytest.raises(SchemaError, match="'age'"):
        infer_schema(bad)
