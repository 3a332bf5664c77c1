"""report.json schema: valid reports pass, broken ones are named; the CLI prints it."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cardiolens.cli import main
from cardiolens.core.errors import SchemaError
from cardiolens.report.schema import load_schema, validate_report
from tests.report.fakes import (
    calcium_json,
    report_dict,
    rest_only_nuclear,
    reversible_lad_nuclear,
    risk_json,
)


def test_schema_is_valid_draft_2020_12():
    schema = load_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "sections",
    [
        {},
        {"nuclear": reversible_lad_nuclear(), "calcium": calcium_json(), "risk": risk_json()},
        {"nuclear": rest_only_nuclear()},
    ],
)
def test_reports_validate(sections):
    validate_report(report_dict(**sections))


def test_violations_name_the_field():
    data = report_dict(nuclear=reversible_lad_nuclear())
    data["nuclear"]["stress"]["segment_scores"][3] = 7
    with pytest.raises(SchemaError, match="nuclear/stress/segment_scores/3"):
        validate_report(data)
    data = report_dict()
    del data["provenance"]["inputs"]
    with pytest.raises(SchemaError, match="provenance"):
        validate_report(data)


def test_cli_prints_the_schema(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["schema", "report"])
    assert exit_info.value.code in (0, None)
    assert json.loads(capsys.readouterr().out)["title"] == "cardiolens report"
