"""Time-to-event models, their metrics and cross-validation.

Models (``fit(x, time, event)`` returns self; ``predict_risk``; ``predict_survival``):

* :class:`BoostedSurvival`: gradient-boosted Cox model (componentwise-free regression
  trees on the Cox partial likelihood; Ridgeway, Comput Sci Stat 1999; scikit-survival
  ``GradientBoostingSurvivalAnalysis``), after median imputation.
* :class:`CoxBaseline`: ridge-penalised Cox proportional-hazards model (Cox, JRSS B
  1972; lifelines ``CoxPHFitter``) after median imputation and standardisation.

Risk at a horizon ``h`` is ``1 - S(h | x)``; an annualised rate over ``h`` years is
``1 - S(h)^(1/h)``.

Metrics: Harrell's C (Harrell et al., JAMA 1982); Uno's IPCW C truncated at the last
evaluation time (Uno et al., Stat Med 2011); cumulative/dynamic time-dependent AUC
averaged over the evaluation times (Uno et al., JASA 2007; Hung & Chiang, Can J Stat
2010); integrated Brier score with IPCW (Graf et al., Stat Med 1999). Evaluation times
are the 10th-80th percentiles of the observed event times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from cardiolens.core.errors import ParameterError
from cardiolens.risk.metrics import Estimate

logger = logging.getLogger(__name__)


class SurvivalKind(StrEnum):
    """Time-to-event model families."""

    BOOSTED = "gradient_boosted_cox"
    COX = "cox"


def _structured(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    from sksurv.util import Surv

    return Surv.from_arrays(event=np.asarray(event, bool), time=np.asarray(time, float))


def check_survival_outcome(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Validate follow-up times (> 0, finite) and event indicators (0/1, bool)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    if time.ndim != 1 or len(time) != len(event):
        raise ParameterError("time and event must be 1-D of equal length")
    if not np.isfinite(time).all() or (time <= 0).any():
        raise ParameterError("follow-up times must be finite and > 0 (no missing values)")
    if not np.isin(event.astype(float), (0.0, 1.0)).all():
        raise ParameterError("the event indicator must hold only 0/1 (or False/True)")
    if event.astype(bool).sum() < 5:
        raise ParameterError("survival models need at least 5 events")
    return time, event.astype(bool)


def check_horizon(horizon: float, time: np.ndarray, longest: float, where: str) -> None:
    """Refuse a risk horizon outside ``(0, longest]``: survival functions end at follow-up.

    Parameters
    ----------
    horizon
        Time at which risk is served (the time column's units).
    time
        All follow-up times (their median is suggested instead).
    longest
        Longest follow-up of the data the model is fitted on.
    where
        Which data, for the message.
    """
    if not 0 < horizon <= longest:
        raise ParameterError(
            f"horizon {horizon:g} lies outside the follow-up {where} (0 to {longest:g}, in the "
            f"time column's units); choose a horizon inside follow-up, e.g. the median "
            f"{float(np.median(time)):g}"
        )


class BoostedSurvival:
    """Gradient-boosted Cox model with median imputation.

    Parameters
    ----------
    n_estimators, learning_rate, max_depth, subsample
        Boosting parameters (scikit-survival ``GradientBoostingSurvivalAnalysis``).
    random_state
        Seed of the subsampling.
    """

    kind = SurvivalKind.BOOSTED

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 2,
        subsample: float = 0.8,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.random_state = random_state

    def fit(self, x: np.ndarray, time: np.ndarray, event: np.ndarray) -> BoostedSurvival:
        """Fit on features (n, p), follow-up times (n,) and events (n,)."""
        from sksurv.ensemble import GradientBoostingSurvivalAnalysis

        time, event = check_survival_outcome(time, event)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(x)
        self.model_ = GradientBoostingSurvivalAnalysis(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            subsample=self.subsample,
            random_state=self.random_state,
        ).fit(self.imputer_.transform(x), _structured(time, event))
        return self

    def predict_risk(self, x: np.ndarray) -> np.ndarray:
        """Log relative hazard, shape (n,); higher means earlier events."""
        return self.model_.predict(self.imputer_.transform(x))

    def predict_survival(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Survival probability S(t | x), shape (n, len(times)) (Breslow baseline)."""
        functions = self.model_.predict_survival_function(self.imputer_.transform(x))
        return np.vstack([f(np.asarray(times, float)) for f in functions])


class CoxBaseline:
    """Ridge-penalised Cox model (lifelines) after imputation and standardisation.

    Parameters
    ----------
    penalizer
        L2 penalty of the partial likelihood.
    """

    kind = SurvivalKind.COX

    def __init__(self, penalizer: float = 0.1) -> None:
        self.penalizer = penalizer

    def _design(self, x: np.ndarray) -> pd.DataFrame:
        z = self.scaler_.transform(self.imputer_.transform(x))
        return pd.DataFrame(z, columns=[f"x{i}" for i in range(z.shape[1])])

    def fit(self, x: np.ndarray, time: np.ndarray, event: np.ndarray) -> CoxBaseline:
        """Fit on features (n, p), follow-up times (n,) and events (n,)."""
        from lifelines import CoxPHFitter

        time, event = check_survival_outcome(time, event)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(x)
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(x))
        frame = self._design(x).assign(_time=time, _event=event.astype(int))
        self.model_ = CoxPHFitter(penalizer=self.penalizer).fit(frame, "_time", "_event")
        return self

    def predict_risk(self, x: np.ndarray) -> np.ndarray:
        """Log partial hazard, shape (n,)."""
        return np.asarray(self.model_.predict_log_partial_hazard(self._design(x)), dtype=float)

    def predict_survival(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Survival probability S(t | x), shape (n, len(times))."""
        return self.model_.predict_survival_function(self._design(x), times=times).to_numpy().T


def risk_at_horizon(model, x: np.ndarray, horizon: float) -> np.ndarray:
    """Cumulative event probability ``1 - S(horizon | x)``, shape (n,)."""
    return 1.0 - model.predict_survival(x, np.array([horizon]))[:, 0]


def annualised_rate(risk: np.ndarray, horizon_years: float) -> np.ndarray:
    """Constant annual event probability equivalent to a cumulative risk over ``horizon_years``."""
    return 1.0 - (1.0 - np.asarray(risk, float)) ** (1.0 / horizon_years)


def status_at_horizon(
    time: np.ndarray, event: np.ndarray, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Binary status at a horizon: (known, event_by_horizon), each shape (n,).

    Status is known for patients with an event by ``horizon`` or followed beyond it;
    patients censored earlier are unknown (complete-case at the horizon).
    """
    by_horizon = event & (time <= horizon)
    return by_horizon | (time > horizon), by_horizon.astype(int)


def evaluation_times(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """15 evaluation times at the 10th-80th percentiles of observed event times."""
    return np.unique(np.percentile(time[event], np.linspace(10, 80, 15)))


def survival_metrics(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    risk: np.ndarray,
    survival: np.ndarray,
    times: np.ndarray,
) -> dict[str, float]:
    """Harrell's C, Uno's C, mean time-dependent AUC and integrated Brier score.

    Parameters
    ----------
    train, test
        ``(time, event)`` of the training patients (censoring distribution for IPCW)
        and of the test patients.
    risk
        Test risk score (higher = earlier event), shape (n_test,).
    survival
        Test survival probabilities at ``times``, shape (n_test, len(times)).
    times
        Evaluation times inside the test follow-up range.
    """
    from sksurv.metrics import (
        concordance_index_censored,
        concordance_index_ipcw,
        cumulative_dynamic_auc,
        integrated_brier_score,
    )

    y_train = _structured(*train)
    # IPCW needs the censoring distribution at every test event time: test events after
    # the last training time are administratively censored there.
    last = train[0].max()
    beyond = test[0] >= last
    y_test = _structured(np.where(beyond, np.nextafter(last, 0), test[0]), test[1] & ~beyond)
    return {
        "harrell_c": float(concordance_index_censored(test[1].astype(bool), test[0], risk)[0]),
        "uno_c": float(concordance_index_ipcw(y_train, y_test, risk, tau=times[-1])[0]),
        "time_dependent_auc": float(cumulative_dynamic_auc(y_train, y_test, risk, times)[1]),
        "integrated_brier": float(integrated_brier_score(y_train, y_test, survival, times)),
    }


@dataclass(frozen=True)
class SurvivalCVResult:
    """Cross-validated survival metrics of one model family."""

    kind: SurvivalKind
    per_fold: pd.DataFrame
    estimates: dict[str, Estimate]
    oof_risk: np.ndarray | None = None

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "model": self.kind.value,
            "per_fold": self.per_fold.to_dict(orient="records"),
            **{name: e.to_dict() for name, e in self.estimates.items()},
        }


def survival_cross_validation(
    x: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    make_models=(BoostedSurvival, CoxBaseline),
    n_splits: int = 5,
    n_boot: int = 200,
    random_state: int = 0,
    progress: bool = False,
    horizon: float | None = None,
) -> list[SurvivalCVResult]:
    """K-fold cross-validation of survival models side by side, with bootstrap 95 % CIs.

    Each fold's model is fitted on the other folds; the metric is the mean over folds.
    The CI resamples patients within every test fold (models fixed) and takes the 2.5th
    and 97.5th percentiles of the fold-mean metric.

    Parameters
    ----------
    x
        Encoded features, shape (n, p).
    time, event
        Follow-up and event indicator, shape (n,).
    make_models
        Callables returning unfitted models (default boosted Cox and Cox baseline).
    horizon
        When given, each result carries the out-of-fold risk ``1 - S(horizon)``.
    """
    time, event = check_survival_outcome(time, event)
    if n_boot < 1:
        raise ParameterError(f"bootstrap resamples (n_boot) must be >= 1; got {n_boot}")
    rng = np.random.default_rng(random_state)
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(x, event))
    if horizon is not None:
        shortest = min(float(time[train].max()) for train, _ in folds)
        check_horizon(horizon, time, shortest, "every cross-validation fold trains on")
    boot_index = [
        [rng.integers(0, len(test), len(test)) for _ in range(n_boot)] for _, test in folds
    ]
    results = []
    for make in make_models:
        rows, boot = [], np.full((n_boot, len(folds), 4), np.nan)
        oof = None if horizon is None else np.zeros(len(time))
        for f, (train, test) in enumerate(tqdm(folds, desc="survival CV", disable=not progress)):
            model = make().fit(x[train], time[train], event[train])
            times = evaluation_times(time[train], event[train])
            times = times[(times >= time[test].min()) & (times < time[test].max())]
            risk = model.predict_risk(x[test])
            if oof is not None:
                oof[test] = risk_at_horizon(model, x[test], horizon)
            survival = model.predict_survival(x[test], times)
            train_outcome = (time[train], event[train])
            rows.append(
                survival_metrics(train_outcome, (time[test], event[test]), risk, survival, times)
            )
            for b, index in enumerate(boot_index[f]):
                sample_time, sample_event = time[test][index], event[test][index]
                inside = times[(times >= sample_time.min()) & (times < sample_time.max())]
                if sample_event.sum() < 2 or len(inside) < 2:
                    continue
                keep = np.isin(times, inside)
                try:
                    values = survival_metrics(
                        train_outcome,
                        (sample_time, sample_event),
                        risk[index],
                        survival[index][:, keep],
                        inside,
                    )
                except ValueError:  # a resample outside the censoring support
                    continue
                boot[b, f] = list(values.values())
        per_fold = pd.DataFrame(rows)
        fold_means = np.nanmean(boot, axis=1)
        estimates = {
            name: Estimate(
                float(per_fold[name].mean()),
                float(np.nanpercentile(fold_means[:, j], 2.5)),
                float(np.nanpercentile(fold_means[:, j], 97.5)),
            )
            for j, name in enumerate(per_fold.columns)
        }
        kind = make.kind if hasattr(make, "kind") else make().kind
        results.append(SurvivalCVResult(kind, per_fold, estimates, oof))
        logger.info("%s: %s", kind.value, {k: str(v) for k, v in estimates.items()})
    return results
