"""Real-data loaders: UCI heart disease (two sites) and WHAS500."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.risk.datasets import load_uci_heart, load_whas500


def test_uci_two_sites(uci_heart_dir):
    data = load_uci_heart(uci_heart_dir)
    counts = data["site"].value_counts()
    assert counts["cleveland"] == 303 and counts["hungarian"] == 294
    # published prevalence of angiographic disease (num > 0): 139/303 and 106/294
    assert data.groupby("site")["cad"].sum().to_dict() == {"cleveland": 139, "hungarian": 106}
    assert set(data["thal"].dropna()) <= {3.0, 6.0, 7.0}
    assert data.loc[data["site"] == "hungarian", "ca"].isna().sum() == 291


def test_whas500():
    features, time, event = load_whas500()
    assert features.shape == (500, 14)
    assert (time > 0).all() and event.sum() == 215
    assert np.isfinite(features.to_numpy()).all()


def test_read_table_names_the_problem_and_the_path(tmp_path):
    from cardiolens.core.errors import InputError
    from cardiolens.risk.datasets import read_table

    with pytest.raises(InputError, match="is a folder; expected a CSV table") as error:
        read_table(tmp_path)
    assert error.value.path == tmp_path
    with pytest.raises(InputError, match="table not found"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="cannot read as CSV"):
        read_table(tmp_path / "empty.csv")
