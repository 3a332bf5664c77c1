"""One UCI training run (Cleveland + Hungarian, site-held-out) shared by the trust tests."""

from __future__ import annotations

import pytest

from cardiolens.risk.datasets import load_uci_heart


@pytest.fixture(scope="session")
def uci_table(uci_heart_dir):
    """UCI table with the binary target ``cad`` (num > 0); ``num`` itself dropped."""
    return load_uci_heart(uci_heart_dir).drop(columns="num")


@pytest.fixture(scope="session")
def uci_training(uci_table, tmp_path_factory):
    """Boosted model + logistic baseline trained with site-held-out validation."""
    from cardiolens.trust.workflow import train_risk_model

    out = tmp_path_factory.mktemp("uci_model")
    return train_risk_model(
        uci_table,
        "cad",
        site="site",
        n_boot=200,
        mitigate=True,
        out=out,
        source="UCI heart disease",
    )
