"""Cardiac CT: coronary calcium scoring and epicardial adipose tissue."""
