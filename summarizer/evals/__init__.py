"""Evals: golden files, the scorer, eval runs and their reports.

A dataset is a folder of ``articles/<id>.txt|.html`` and ``golden/<id>.json``;
:mod:`~summarizer.evals.goldens` loads and checks them,
:mod:`~summarizer.evals.scoring` scores one summary against its golden,
:mod:`~summarizer.evals.runs` runs and scores a whole dataset and
:mod:`~summarizer.evals.report` renders the result.
"""
