"""Internal and external validation of the binary-outcome classifiers.

* Tuning: grid search over :data:`~cardiolens.risk.models.TUNING_GRIDS` by stratified
  inner cross-validation on the log-loss (a proper scoring rule); from
  :data:`LARGE_TABLE_ROWS` patients on, one stratified 80/20 split replaces the inner
  folds (its variance is small at that size and training stays within minutes).
* Nested cross-validation: the tuning is repeated inside every outer training fold so
  that the outer out-of-fold risks estimate the performance of the whole procedure
  without optimism (Varma & Simon, BMC Bioinformatics 2006).
* Site-held-out external validation: train (and tune) on all sites but one, test on the
  held-out site, for every site in turn (TRIPOD "external validation",
  Collins et al., BMJ 2024 for TRIPOD+AI).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.model_selection import GridSearchCV, StratifiedKFold, StratifiedShuffleSplit
from tqdm.auto import tqdm

from cardiolens.core.errors import ParameterError
from cardiolens.risk.metrics import ClassificationMetrics, classification_metrics
from cardiolens.risk.models import TUNING_GRIDS, ModelKind, make_classifier, model_kind
from cardiolens.risk.schema import FeatureSchema

logger = logging.getLogger(__name__)

LARGE_TABLE_ROWS = 5000


def tune_classifier(
    x: np.ndarray,
    y: np.ndarray,
    kind: str | ModelKind,
    schema: FeatureSchema,
    inner_folds: int = 3,
    random_state: int = 0,
    n_jobs: int = 1,
) -> tuple[ClassifierMixin, dict]:
    """Fit the best classifier of a family chosen by inner cross-validated log-loss.

    Parameters
    ----------
    x
        Encoded features, shape (n, n_features), NaN for missing.
    y
        Outcome 0/1, shape (n,).
    n_jobs
        Threads of the boosted models.

    Returns
    -------
    estimator
        Refitted on all of ``x`` with the best parameters.
    best_params
        The chosen grid point.
    """
    kind = model_kind(kind)
    folds = min(inner_folds, int(np.bincount(y.astype(int)).min()))
    if folds < 2:
        raise ParameterError("tuning needs at least 2 patients of each outcome")
    if len(y) >= LARGE_TABLE_ROWS:
        splitter = StratifiedShuffleSplit(1, test_size=0.2, random_state=random_state)
    else:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    search = GridSearchCV(
        make_classifier(kind, schema, random_state=random_state, n_jobs=n_jobs),
        TUNING_GRIDS[kind],
        scoring="neg_log_loss",
        cv=splitter,
        refit=True,
    )
    search.fit(x, y)
    logger.info("%s tuned: %s", kind.value, search.best_params_)
    return search.best_estimator_, dict(search.best_params_)


@dataclass(frozen=True)
class NestedCVResult:
    """Out-of-fold risks of nested cross-validation and their metrics."""

    kind: ModelKind
    probability: np.ndarray
    fold: np.ndarray
    best_params: tuple[dict, ...]
    metrics: ClassificationMetrics


def nested_cross_validation(
    x: np.ndarray,
    y: np.ndarray,
    kind: str | ModelKind,
    schema: FeatureSchema,
    outer_folds: int = 5,
    inner_folds: int = 3,
    random_state: int = 0,
    n_boot: int = 1000,
    progress: bool = False,
    n_jobs: int = 1,
) -> NestedCVResult:
    """Nested cross-validation: tune inside each outer training fold, predict the outer fold.

    Returns
    -------
    NestedCVResult
        ``probability[i]`` is predicted by a model that never saw patient ``i``, neither
        for fitting nor for tuning.
    """
    kind = model_kind(kind)
    smallest_class = int(np.bincount(np.asarray(y, dtype=int), minlength=2).min())
    if not 2 <= outer_folds <= smallest_class:
        raise ParameterError(
            f"outer folds must be 2 to {smallest_class} (the patients of the rarer outcome); "
            f"got {outer_folds}"
        )
    probability = np.zeros(len(y))
    fold_of = np.zeros(len(y), dtype=int)
    params = []
    splitter = StratifiedKFold(outer_folds, shuffle=True, random_state=random_state)
    splits = list(splitter.split(x, y))
    for fold, (train, test) in enumerate(
        tqdm(splits, desc=f"nested CV {kind.value}", disable=not progress)
    ):
        model, best = tune_classifier(
            x[train], y[train], kind, schema, inner_folds, random_state, n_jobs
        )
        probability[test] = model.predict_proba(x[test])[:, 1]
        fold_of[test] = fold
        params.append(best)
    metrics = classification_metrics(y, probability, n_boot=n_boot, random_state=random_state)
    return NestedCVResult(kind, probability, fold_of, tuple(params), metrics)


@dataclass(frozen=True)
class ExternalValidation:
    """A model trained on some sites and tested on a held-out site."""

    kind: ModelKind
    train_sites: tuple[str, ...]
    test_site: str
    test_index: np.ndarray
    y: np.ndarray
    probability: np.ndarray
    best_params: dict
    metrics: ClassificationMetrics


def site_held_out_validation(
    x: np.ndarray,
    y: np.ndarray,
    sites: np.ndarray,
    kinds: tuple[str | ModelKind, ...],
    schema: FeatureSchema,
    random_state: int = 0,
    n_boot: int = 1000,
    progress: bool = False,
    n_jobs: int = 1,
) -> list[ExternalValidation]:
    """Leave-one-site-out external validation of each model family.

    Parameters
    ----------
    sites
        Site label per patient, shape (n,); at least two distinct sites.
    kinds
        Model families, all trained on the same split (side by side).

    Returns
    -------
    list of ExternalValidation
        One per (held-out site, model family).
    """
    sites = np.asarray(sites).astype(str)
    labels = sorted(set(sites))
    if len(labels) < 2:
        raise ParameterError(f"site-held-out validation needs >= 2 sites, found {labels}")
    results = []
    jobs = [(site, model_kind(kind)) for site in labels for kind in kinds]
    for site, kind in tqdm(jobs, desc="site-held-out validation", disable=not progress):
        train = sites != site
        test = np.flatnonzero(~train)
        model, best = tune_classifier(
            x[train], y[train], kind, schema, random_state=random_state, n_jobs=n_jobs
        )
        probability = model.predict_proba(x[test])[:, 1]
        results.append(
            ExternalValidation(
                kind=kind,
                train_sites=tuple(s for s in labels if s != site),
                test_site=site,
                test_index=test,
                y=y[test],
                probability=probability,
                best_params=best,
                metrics=classification_metrics(
                    y[test], probability, n_boot=n_boot, random_state=random_state
                ),
            )
        )
        logger.info(
            "%s trained on %s, tested on %s: AUC %s",
            kind.value,
            results[-1].train_sites,
            site,
            results[-1].metrics.auc,
        )
    return results
