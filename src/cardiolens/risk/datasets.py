"""Loaders for the real tabular data sets the risk models are validated on.

* UCI Heart Disease (Detrano et al., Am J Cardiol 1989; UCI Machine Learning
  Repository, CC BY 4.0): processed 14-attribute files of the Cleveland Clinic and the
  Hungarian Institute of Cardiology, Budapest. Outcome ``num`` is the angiographic
  disease grade (0 = < 50 % diameter narrowing in every major vessel, 1-4 = > 50 %);
  the loader adds the binary target ``cad = int(num > 0)``.
* WHAS500 (Hosmer, Lemeshow & May, Applied Survival Analysis, 2008), shipped with
  scikit-survival: 500 patients after acute myocardial infarction, follow-up in days
  and death from any cause.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cardiolens.core.errors import InputError

logger = logging.getLogger(__name__)

UCI_COLUMNS: tuple[str, ...] = (
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
    "num",
)
"""The 14 attributes of the processed UCI files, in file order (``heart-disease.names``)."""

UCI_SITES: dict[str, str] = {
    "cleveland": "processed.cleveland.data",
    "hungarian": "processed.hungarian.data",
}
"""Site name -> processed file name."""

UCI_THAL_CODES = (3.0, 6.0, 7.0)
"""Valid ``thal`` codes: 3 normal, 6 fixed defect, 7 reversible defect."""


def load_uci_heart(folder: str | Path, sites: tuple[str, ...] = tuple(UCI_SITES)) -> pd.DataFrame:
    """Read the processed UCI heart disease files of the given sites into one table.

    Parameters
    ----------
    folder
        Folder holding ``processed.<site>.data`` (comma separated, no header, ``?`` missing).
    sites
        Site names to read, keys of :data:`UCI_SITES`.

    Returns
    -------
    DataFrame
        The 14 attributes as floats, ``site`` (str) and the binary target ``cad``
        (1 when ``num`` > 0, i.e. > 50 % stenosis in at least one major vessel).
        A ``thal`` code outside 3/6/7 (the Cleveland file holds two zeros where the
        original marked a missing value) becomes missing, with a warning.
    """
    folder = Path(folder)
    tables = []
    for site in sites:
        if site not in UCI_SITES:
            raise InputError(f"unknown UCI site {site!r}; expected one of {sorted(UCI_SITES)}")
        path = folder / UCI_SITES[site]
        if not path.is_file():
            raise InputError("UCI heart disease file not found", path)
        table = pd.read_csv(path, header=None, names=list(UCI_COLUMNS), na_values="?")
        if table.shape[1] != len(UCI_COLUMNS) or table.isna().all(axis=1).any():
            raise InputError(
                f"expected {len(UCI_COLUMNS)} comma-separated attributes per row", path
            )
        table = table.astype(float)
        invalid_thal = table["thal"].notna() & ~table["thal"].isin(UCI_THAL_CODES)
        if invalid_thal.any():
            logger.warning(
                "%s: %d thal value(s) outside the codes 3/6/7 set to missing",
                path,
                int(invalid_thal.sum()),
            )
            table.loc[invalid_thal, "thal"] = np.nan
        table["site"] = site
        tables.append(table)
    data = pd.concat(tables, ignore_index=True)
    data["cad"] = (data["num"] > 0).astype(int)
    return data


def load_whas500() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Worcester Heart Attack Study (500 patients) as features, follow-up and death.

    Returns
    -------
    features
        Float table of the 14 covariates (categorical ones as 0/1 codes).
    time_days
        Follow-up time in days, shape (500,).
    event
        True where the patient died during follow-up, shape (500,).
    """
    from sksurv.datasets import load_whas500 as _load

    features, outcome = _load()
    features = features.apply(lambda column: column.astype(float))
    return features, outcome["lenfol"].astype(float), outcome["fstat"].astype(bool)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table of patients (``?``, ``NA`` and empty cells are missing values).

    Raises
    ------
    InputError
        The file is absent, empty or not parseable as CSV.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; expected a CSV table (one patient per row)", path)
    if not path.is_file():
        raise InputError("table not found", path)
    try:
        table = pd.read_csv(path, na_values=["?", "NA", ""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read as CSV: {error}", path) from None
    if table.empty:
        raise InputError("the table has no rows", path)
    return table
