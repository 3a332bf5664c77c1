"""Outcome columns: validation of a 0/1 target and the ``--positive-if`` rule.

The UCI ``num`` column is a disease grade 0-4; classification needs a 0/1 target, made
with ``positive_if(table, "num>0")`` (or ``--positive-if 'num>0'`` on the CLI).
"""

from __future__ import annotations

import difflib
import operator
import re

import numpy as np
import pandas as pd

from cardiolens.core.errors import ParameterError, SchemaError

_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_RULE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(-?[\d.]+(?:e-?\d+)?)\s*$")


def column_or_error(table: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in table.columns:
        close = difflib.get_close_matches(name, [str(c) for c in table.columns], n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {list(table.columns)}"
        raise SchemaError(f"{role} column {name!r} is not in the table{hint}")
    return table[name]


def binary_target(table: pd.DataFrame, target: str) -> np.ndarray:
    """The 0/1 outcome column as an int array, shape (n,).

    Raises
    ------
    SchemaError
        The column is absent, has missing values or holds values other than 0 and 1
        (with the hint to binarise it with ``positive_if``).
    """
    values = pd.to_numeric(column_or_error(table, target, "target"), errors="coerce")
    bad = values.isna() | ~values.isin((0, 1))
    if bad.any():
        rows = ", ".join(str(i) for i in table.index[bad][:5])
        examples = ", ".join(
            repr(v.item() if hasattr(v, "item") else v) for v in table[target][bad].unique()[:3]
        )
        raise SchemaError(
            f"target column {target!r} must hold 0/1 without missing values; found {examples} "
            f"at row(s) {rows}; binarise it, e.g. --positive-if '{target}>0'"
        )
    return values.to_numpy().astype(int)


def positive_if(table: pd.DataFrame, rule: str) -> tuple[str, np.ndarray]:
    """Apply a rule ``COLUMN OP NUMBER`` (OP one of > >= < <= == !=) to make a 0/1 target.

    Returns
    -------
    column
        The column the rule reads.
    target
        1 where the rule holds, else 0, shape (n,).
    """
    match = _RULE.match(rule)
    if match is None:
        raise ParameterError(
            f"--positive-if {rule!r} is not of the form COLUMN OP NUMBER, e.g. 'num>0'"
        )
    name, op, number = match.groups()
    values = pd.to_numeric(column_or_error(table, name, "--positive-if"), errors="coerce")
    if values.isna().any():
        rows = ", ".join(str(i) for i in table.index[values.isna()][:5])
        raise SchemaError(
            f"--positive-if column {name!r} is missing or non-numeric at row(s) {rows}"
        )
    return name, _OPERATORS[op](values, float(number)).to_numpy().astype(int)
