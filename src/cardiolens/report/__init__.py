"""Structured reports: JSON with a schema, HTML, narrative text, DICOM SR and SEG."""
