"""Matching deposits against expected payments: rules, candidates, scoring, assignment, shapes, manual work.

Entry points: `reconcile_files` (two CSVs in, Matches CSV out, no store), `reconcile_store` (what the store
holds), the manual actions `link`, `unlink`, `accept`, `reject`, and the paged views `suggestions`,
`open_items` and `groups` for people.

The names load on first use (PEP 562): the engine pulls in scipy's assignment solver (half a second in a fresh
kernel), which the explorer's first view and the manual actions never need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconwb.matching.engine import ReconcileReport, reconcile_files, reconcile_store
    from reconwb.matching.manual import accept, link, reject, unlink
    from reconwb.matching.queries import Filters, groups, open_items, suggestions

_LAZY = {
    "ReconcileReport": "engine", "reconcile_files": "engine", "reconcile_store": "engine",
    "accept": "manual", "link": "manual", "reject": "manual", "unlink": "manual",
    "Filters": "queries", "groups": "queries", "open_items": "queries", "suggestions": "queries",
}

__all__ = [
    "Filters", "ReconcileReport", "accept", "groups", "link", "open_items", "reconcile_files", "reconcile_store",
    "reject", "suggestions", "unlink",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value  # once: later reads are plain attribute reads
    return value
