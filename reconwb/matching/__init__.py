"""Matching deposits against expected payments: rules, candidates, scoring, assignment, shapes, manual work.

Entry points: `reconcile_files` (two CSVs in, Matches CSV out, no store), `reconcile_store` (what the store
holds), the manual actions `link`, `unlink`, `accept`, `reject`, and the paged views `suggestions`,
`open_items` and `groups` for people.
"""

from reconwb.matching.engine import ReconcileReport, reconcile_files, reconcile_store
from reconwb.matching.manual import accept, link, reject, unlink
from reconwb.matching.queries import Filters, groups, open_items, suggestions

__all__ = [
    "Filters", "ReconcileReport", "accept", "groups", "link", "open_items", "reconcile_files", "reconcile_store",
    "reject", "suggestions", "unlink",
]
