"""Matching deposits against expected payments: rules, candidates, scoring, assignment, shapes, manual work."""

from reconwb.matching.engine import ReconcileReport, reconcile_files

__all__ = ["ReconcileReport", "reconcile_files"]
