"""Outcome rules and target validation."""

from __future__ import annotations

import pandas as pd
import pytest

from cardiolens.core.errors import ParameterError, SchemaError
from cardiolens.risk.outcome import binary_target, positive_if


def test_positive_if_binarises_the_uci_grade():
    table = pd.DataFrame({"num": [0, 1, 2, 4, 0]})
    column, target = positive_if(table, "num>0")
    assert column == "num"
    assert target.tolist() == [0, 1, 1, 1, 0]
    assert positive_if(table, "num >= 2")[1].tolist() == [0, 0, 1, 1, 0]


def test_bad_rule_and_bad_target():
    table = pd.DataFrame({"num": [0, 2], "cad": [0, 2]})
    with pytest.raises(ParameterError, match="COLUMN OP NUMBER"):
        positive_if(table, "num is big")
    with pytest.raises(SchemaError, match="did you mean 'num'"):
        positive_if(table, "nun>0")
    with pytest.raises(SchemaError, match="must hold 0/1.*--positive-if 'cad>0'"):
        binary_target(table, "cad")


def test_bad_target_values_are_shown_as_written():
    table = pd.DataFrame({"cad": [0.0, 62.5, 1.0]})
    with pytest.raises(SchemaError, match=r"found 62\.5 at row\(s\) 1;") as error:
        binary_target(table, "cad")
    assert "np." not in str(error.value)
