"""Damaged risk CSV tables, clinical JSON, model folders and report folders.

Each goes through the code the CLI runs on it: ``risk predict`` (CSV), the
clinical reader and the model's prediction as ``analyze --clinical`` uses them,
``load_model`` and ``report amend``.
"""

from __future__ import annotations

import json

from cardiolens.core.errors import naming_file
from tests.fuzz.conftest import copy_folder, count, json_text, mutate_json, rng_for
from tests.fuzz.harness import FuzzTally
from tests.fuzz.mutations import mutate_bytes


def _clinical_prediction(model, path):
    """What ``analyze --clinical PATH --model M`` does with the file (pipeline._run_risk)."""
    from cardiolens.cli.analyze import _read_clinical

    clinical = _read_clinical(path)
    with naming_file(path):
        return model.predict_one({name: clinical.get(name) for name in model.schema.names})


def _predict_with(folder, row):
    """Load the model folder and predict one row; a schema mismatch is the folder's fault."""
    from cardiolens.trust.serving import load_model

    model = load_model(folder)
    with naming_file(folder):
        return model.predict(row)


def test_risk_csv_mutants(risk_model, tmp_path):
    from cardiolens.cli.risk import predict

    model_dir, table = risk_model
    seed = table.drop(columns=["cad", "site"]).head(12).to_csv(index=False).encode()
    tally = FuzzTally()
    for i in range(count(70)):
        rng = rng_for("csv", i)
        if rng.random() < 0.5:
            data = mutate_bytes(seed, rng)
        else:  # a cell or a header name replaced by nonsense (valid CSV)
            lines = seed.decode().splitlines()
            row = int(rng.integers(0, len(lines)))
            cells = lines[row].split(",")
            cells[int(rng.integers(0, len(cells)))] = ["", "NaN", "-1e308", "x", "1e999", '"'][
                int(rng.integers(0, 6))
            ]
            lines[row] = ",".join(cells)
            data = ("\n".join(lines) + "\n").encode()
        path = tmp_path / f"table_{i}.csv"
        path.write_bytes(data)
        tally.check(
            lambda p=path: predict(model_dir, p, out=tmp_path / "p.csv", confidence=None),
            path,
            path.name,
        )
    tally.assert_clean(count(70))


def test_clinical_json_mutants(risk_model, tmp_path):
    from cardiolens.trust.serving import load_model

    model_dir, table = risk_model
    model = load_model(model_dir)
    row = table.drop(columns=["cad", "site"]).iloc[0]
    seed = {name: (None if row[name] != row[name] else row[name].item()) for name in row.index}
    tally = FuzzTally()
    for i in range(count(60)):
        rng = rng_for("clinical", i)
        text = json_text(mutate_json(seed, rng))
        data = mutate_bytes(text.encode(), rng) if rng.random() < 0.4 else text.encode()
        path = tmp_path / f"clinical_{i}.json"
        path.write_bytes(data)
        tally.check(lambda p=path: _clinical_prediction(model, p), path, path.name)
    tally.assert_clean(count(60))


def test_model_folder_mutants(risk_model, tmp_path):

    model_dir, table = risk_model
    row = table.drop(columns=["cad", "site"]).iloc[[0]]
    tally = FuzzTally()
    for i in range(count(40)):
        rng = rng_for("model", i)
        folder = copy_folder(model_dir, tmp_path / f"model_{i}")
        victim = folder / ["metadata.json", "schema.json", "model.joblib"][int(rng.integers(0, 3))]
        if victim.suffix == ".json" and rng.random() < 0.7:
            victim.write_text(json_text(mutate_json(json.loads(victim.read_text()), rng)))
        else:
            victim.write_bytes(mutate_bytes(victim.read_bytes(), rng))
        tally.check(lambda f=folder: _predict_with(f, row), folder, folder.name)
    tally.assert_clean(count(40))


def test_report_folder_mutants_for_amend(report_seed, tmp_path):
    from cardiolens.pipeline import amend_report

    seed = json.loads((report_seed / "report.json").read_text())
    tally = FuzzTally()
    for i in range(count(40)):
        rng = rng_for("report", i)
        folder = copy_folder(report_seed, tmp_path / f"report_{i}")
        if rng.random() < 0.7:
            (folder / "report.json").write_text(json_text(mutate_json(seed, rng)))
        else:
            path = folder / "report.json"
            path.write_bytes(mutate_bytes(path.read_bytes(), rng))
        tally.check(
            lambda f=folder: amend_report(
                f, text="checked", user="fuzz", audit_db=tmp_path / "audit.sqlite"
            ),
            folder,
            folder.name,
        )
    tally.assert_clean(count(40))
