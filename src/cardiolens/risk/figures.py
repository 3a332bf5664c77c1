"""Validation figures: ROC curves, calibration plot and decision curve (matplotlib, Agg).

Each function takes ``{label: (y, risk)}`` so that models (boosted and baseline) or
sites are drawn side by side, and writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cardiolens.risk.metrics import auc, calibration_curve, net_benefit


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 5), dpi=100)


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """ROC curves (sensitivity against 1 - specificity) with the AUC in the legend."""
    from sklearn.metrics import roc_curve

    figure, axis = _figure()
    for label, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        axis.plot(fpr, tpr, label=f"{label} (AUC {auc(y, p):.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    axis.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def plot_calibration(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """Observed event rate against mean predicted risk in deciles, with the ideal diagonal."""
    figure, axis = _figure()
    for label, (y, p) in curves.items():
        table = calibration_curve(y, p)
        axis.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=label)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set(
        xlabel="predicted risk",
        ylabel="observed event rate",
        title="Calibration",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axis.legend(loc="upper left", fontsize=8)
    return _save(figure, path)


def plot_decision_curve(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """Net benefit against threshold probability, with treat-all and treat-none."""
    figure, axis = _figure()
    table = None
    for label, (y, p) in curves.items():
        table = net_benefit(y, p)
        axis.plot(table["threshold"], table["model"], label=label)
    if table is not None:
        axis.plot(
            table["threshold"], table["treat_all"], color="grey", linestyle="--", label="treat all"
        )
        axis.axhline(0.0, color="black", linewidth=0.8, label="treat none")
        axis.set_ylim(-0.05, max(0.05, float(table["treat_all"].max()) + 0.05))
    axis.set(xlabel="threshold probability", ylabel="net benefit", title="Decision curve")
    axis.legend(loc="upper right", fontsize=8)
    return _save(figure, path)
