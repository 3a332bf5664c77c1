"""Explanations, calibrated uncertainty, subgroup bias audit and model cards."""
