"""Operate: cardiolens next to a PACS and over cohorts.

:mod:`~cardiolens.service.cohort` runs the pipeline over a folder of studies on a
Dask cluster. The service layer sits after :mod:`cardiolens.pipeline`: it imports
the pipeline and the stages, never the other way round.
"""
