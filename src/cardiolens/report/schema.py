"""The JSON Schema of ``report.json`` (draft 2020-12), shipped as package data."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from cardiolens.core.errors import SchemaError

__all__ = ["load_schema", "validate_report"]


@cache
def _schema_text() -> str:
    return files("cardiolens.report").joinpath("schema.json").read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The report schema as a dict (a fresh copy on each call)."""
    return json.loads(_schema_text())


def validate_report(data: dict[str, Any]) -> None:
    """Validate a report dict against the schema.

    Raises
    ------
    SchemaError
        Naming the JSON path of the first violation and what the schema expected.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = list(validator.iter_errors(data))
    if errors:
        first = jsonschema.exceptions.best_match(errors)
        while first.context:  # descend into oneOf/anyOf to the most specific failure
            first = max(first.context, key=lambda e: len(e.absolute_path))
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        message = first.message if len(first.message) <= 160 else first.message[:157] + "..."
        raise SchemaError(
            f"report does not match the report schema at {where}: {message}"
            + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else "")
        )
