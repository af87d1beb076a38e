"""Match groups in the store: writing them, moving payment statuses, and the events and audit rows they cause.

Automatic runs and manual actions share these helpers so a payment's status, its events and the audit trail
follow one definition: a payment is `paid` when live (matched) groups cover its amount, `partially_paid` when
they cover part of it, `open` otherwise (a cancelled payment stays cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from reconwb import events, jsonutil
from reconwb.errors import Conflict
from reconwb.payments import paid_sql
from reconwb.store.db import registered

LIVE = "matched"


def audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, subject: str | None,
          rule_version: str | None, detail: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO audit_log (actor, action, subject, rule_version, detail) VALUES (?, ?, ?, ?, ?)",
        [actor, action, subject, rule_version, jsonutil.dumps(detail)],
    )


def insert_groups(con: duckdb.DuckDBPyConnection, groups: pl.DataFrame, links: pl.DataFrame) -> None:
    """Bulk insert: `groups` (group_id, kind, rule, rule_version, confidence, status, pinned, evidence,
    created_by) and `links` (group_id, txn_id, payment_id, amount[, fee][, fx_difference, fx_rate]).

    The groups are new (random ids); a link repeated within them is refused here, since no index on `matches`
    keeps (group_id, txn_id, payment_id) unique (migration 0023)."""
    if links.height and links.select(pl.struct("group_id", "txn_id", "payment_id").is_duplicated().any()).item():
        raise Conflict("a match group cannot link the same deposit and payment twice")
    if "fee" not in links.columns:
        links = links.with_columns(fee=pl.lit("0"))
    if "fx_difference" not in links.columns:
        links = links.with_columns(fx_difference=pl.lit("0"), fx_rate=pl.lit(None, dtype=pl.String))
    with registered(con, "_groups", groups.to_arrow()):
        con.execute(
            "INSERT INTO match_groups (group_id, kind, rule, rule_version, confidence, status, pinned, evidence,"
            " created_by) SELECT group_id, kind, rule, rule_version, confidence, status, pinned,"
            " CAST(evidence AS JSON), created_by FROM _groups"
        )
    with registered(con, "_links", links.to_arrow()):
        con.execute(
            "INSERT INTO matches (group_id, txn_id, payment_id, amount, fee, fx_difference, fx_rate) SELECT group_id,"
            " CAST(txn_id AS BIGINT), payment_id, CAST(amount AS DECIMAL(18, 2)), CAST(fee AS DECIMAL(18, 2)),"
            " CAST(fx_difference AS DECIMAL(18, 2)), CAST(fx_rate AS DECIMAL(18, 8)) FROM _links"
        )


# PAID_SQL for the payments in `_ids` only: a chunk of a big run refreshes its own payments without summing
# every match in the store
_PAID_OF_IDS_SQL = paid_sql("(SELECT m.* FROM _ids JOIN matches m USING (payment_id))")


def refresh_payments(con: duckdb.DuckDBPyConnection, payment_ids: Iterable[str]) -> dict[str, tuple[str, Decimal]]:
    """Recompute the status of these payments from live groups; return {payment_id: (status, open amount)}."""
    ids = pl.DataFrame({"payment_id": sorted(set(payment_ids))}, schema={"payment_id": pl.String})
    if ids.is_empty():
        return {}
    with registered(con, "_ids", ids.to_arrow()):
        con.execute(
            f"""
            UPDATE payments p SET status = s.status, updated_at = now()
            FROM (
                SELECT p.payment_id,
                       CASE WHEN coalesce(m.paid, 0) >= p.amount THEN 'paid'
                            WHEN coalesce(m.paid, 0) > 0 THEN 'partially_paid' ELSE 'open' END AS status
                FROM payments p JOIN _ids USING (payment_id) LEFT JOIN ({_PAID_OF_IDS_SQL}) m USING (payment_id)
                WHERE p.status <> 'cancelled'
            ) s
            WHERE p.payment_id = s.payment_id AND p.status <> s.status
            """
        )
        rows = con.execute(
            f"SELECT p.payment_id, p.status, p.amount - coalesce(m.paid, 0) FROM payments p JOIN _ids"
            f" USING (payment_id) LEFT JOIN ({_PAID_OF_IDS_SQL}) m USING (payment_id)"
        ).fetchall()
    return {pid: (status, open_amount) for pid, status, open_amount in rows}


def group_detail(con: duckdb.DuckDBPyConnection, group_id: str) -> dict[str, Any] | None:
    rows = con.execute(
        "SELECT g.group_id, g.kind, g.rule, g.rule_version, g.confidence, g.status, g.pinned, g.created_by,"
        " x.txn_id, x.payment_id, x.amount, x.fee, x.fx_difference, json_extract_string(g.evidence, '$.explanation')"
        " FROM match_groups g LEFT JOIN matches x USING (group_id)"
        " WHERE g.group_id = ? ORDER BY x.txn_id, x.payment_id",
        [group_id],
    ).fetchall()
    if not rows:
        return None
    first = rows[0]
    return {
        "group_id": first[0], "kind": first[1], "rule": first[2], "rule_version": first[3],
        "confidence": first[4], "status": first[5], "pinned": first[6], "created_by": first[7],
        "explanation": first[13],
        "links": [{"txn_id": r[8], "payment_id": r[9], "amount": r[10], "fee": r[11], "fx_difference": r[12]}
                  for r in rows if r[8] is not None],
    }


def payment_event(payment_id: str, statuses: dict[str, tuple[str, Decimal]], group_id: str, kind: str, rule: str,
                  confidence: float, transactions: list[dict[str, Any]],
                  explanation: str | None = None) -> tuple[str, dict, str]:
    """The event for one payment of a group that just went live: `payment.matched` when it is now paid in full,
    else `payment.partially_matched`. As (type, payload, subject).

    `transactions` are `{txn_id, amount, fee[, fx_difference]}`: `fee` (total in the payload) is what the payer's
    bank kept or a tolerance accepted, settled without arriving; `fx_difference` (total too) what a conversion
    from another currency left. `explanation` says in words why the match was made.
    """
    status, open_amount = statuses.get(payment_id, ("open", None))
    payload = {
        "payment_id": payment_id,
        "status": status,
        "open_amount": open_amount,
        "fee": sum((t.get("fee") or Decimal(0) for t in transactions), Decimal(0)),
        "fx_difference": sum((t.get("fx_difference") or Decimal(0) for t in transactions), Decimal(0)),
        "group_id": group_id,
        "match_kind": kind,
        "rule": rule,
        "confidence": confidence,
        "transactions": transactions,
        "explanation": explanation,
    }
    event = "payment.matched" if status == "paid" else "payment.partially_matched"
    return event, payload, f"payment:{payment_id}"


def matched_events(group: dict[str, Any], statuses: dict[str, tuple[str, Decimal]]) -> list[tuple[str, dict, str]]:
    """The events of one group (see `payment_event`)."""
    return [
        payment_event(payment_id, statuses, group["group_id"], group["kind"], group["rule"], group["confidence"],
                      [{"txn_id": link["txn_id"], "amount": link["amount"], "fee": link["fee"],
                        "fx_difference": link.get("fx_difference") or Decimal(0)}
                       for link in group["links"] if link["payment_id"] == payment_id],
                      explanation=group.get("explanation"))
        for payment_id in sorted({link["payment_id"] for link in group["links"]})
    ]


def emit_all(con: duckdb.DuckDBPyConnection, items: Iterable[tuple[str, dict, str]]) -> int:
    """Emit (type, payload, subject) events in bulk, one round trip per type."""
    by_type: dict[str, list[tuple[dict, str]]] = {}
    for kind, payload, subject in items:
        by_type.setdefault(kind, []).append((payload, subject))
    for kind, batch in by_type.items():
        events.emit_many(con, kind, batch)
    return sum(len(b) for b in by_type.values())


def emit_matched(con: duckdb.DuckDBPyConnection, group: dict[str, Any],
                 statuses: dict[str, tuple[str, Decimal]]) -> int:
    return emit_all(con, matched_events(group, statuses))


def emit_removed(con: duckdb.DuckDBPyConnection, group: dict[str, Any],
                 statuses: dict[str, tuple[str, Decimal]], actor: str) -> None:
    events.emit(
        con,
        "match.removed",
        {
            "group_id": group["group_id"],
            "match_kind": group["kind"],
            "removed_by": actor,
            "links": group["links"],
            "payments": {pid: {"status": s, "open_amount": a} for pid, (s, a) in sorted(statuses.items())},
        },
        subject=f"match:{group['group_id']}",
    )
