"""Diagnostic and prognostic models over clinical, stress-test and imaging features."""
