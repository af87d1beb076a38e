"""What a person does with matches: link by hand, unlink, accept or reject a suggestion.

Every action is one transaction that changes the group, moves the payment statuses, emits the events a webhook
subscriber expects and writes an audit row saying who, when, under which rule version and on what evidence.
Everything a person decides is pinned: automatic runs neither change it nor propose a rejected or removed pair
again. What a decision says about payers is learned too (`aliases.learn`): a link or an accept across differing
names or IBANs remembers the alias, a rejection across differing names remembers the pair as evidence against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from reconwb import events, jsonutil
from reconwb.errors import Conflict, InvalidInput, NotFound
from reconwb.matching import aliases as payer_aliases
from reconwb.matching import rates as fx_rates
from reconwb.matching import records
from reconwb.matching import rules as rules_mod
from reconwb.matching.records import LIVE
from reconwb.payments import PAID_SQL
from reconwb.payments import visible as payment_visible
from reconwb.store.db import transaction

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

MANUAL = "manual"


def _group(con: duckdb.DuckDBPyConnection, group_id: str) -> dict[str, Any]:
    group = records.group_detail(con, group_id)
    if group is None:
        raise NotFound(f"no match group {group_id!r}")
    return group


def link(ws: Workspace, txn_ids: Sequence[int], payment_ids: Sequence[str], *, actor: str,
         note: str | None = None, write_off: bool = False) -> dict[str, Any]:
    """Link transactions to payments by hand: one-to-one, a split (n deposits, 1 payment) or a batch (1, n).

    A batch allocates the deposit over the payments in the order given, each up to its open amount.
    `write_off` settles what the money leaves open as a fee (a bank charge, a small underpayment the business
    accepts), so the payments are paid in full; the amount written off is in the result, events and audit.
    """
    txn_ids = sorted({int(t) for t in txn_ids})
    payment_ids = list(dict.fromkeys(payment_ids))
    if not txn_ids or not payment_ids:
        raise InvalidInput("a link needs at least one transaction and one payment")
    if len(txn_ids) > 1 and len(payment_ids) > 1:
        raise InvalidInput("link several transactions to one payment, or one transaction to several payments")
    with ws.connect() as con, transaction(con):
        found = _transactions(con, txn_ids)
        opens = _open_amounts(con, payment_ids)
        currencies = {c for _, c in opens.values()}
        if len(currencies) > 1:
            raise InvalidInput(f"the payments' currencies differ: {', '.join(sorted(currencies))}")
        txns, fx_rate = _in_currency(con, found, currencies.pop())
        if len(payment_ids) == 1:
            kind = "one_to_one" if len(txn_ids) == 1 else "split"
            rows = [(t, payment_ids[0], txns[t][0]) for t in txn_ids]
        else:
            kind = "batch"
            remaining, rows = txns[txn_ids[0]][0], []
            for pid in payment_ids:
                share = min(opens[pid][0], remaining) if pid != payment_ids[-1] else remaining
                rows.append((txn_ids[0], pid, share))
                remaining -= share
        group_id = events.new_id("grp")
        said = f"linked by hand by {actor}" + (f": {note}" if note else "")
        evidence = {"note": note, "by": actor, "explanation": said}
        groups = pl.DataFrame([{
            "group_id": group_id, "kind": kind, "rule": MANUAL, "rule_version": None, "confidence": 1.0,
            "status": LIVE, "pinned": True, "evidence": jsonutil.dumps(evidence), "created_by": actor,
        }], schema={"group_id": pl.String, "kind": pl.String, "rule": pl.String, "rule_version": pl.String,
                    "confidence": pl.Float64, "status": pl.String, "pinned": pl.Boolean, "evidence": pl.String,
                    "created_by": pl.String})
        settled = _write_offs(rows, opens) if write_off else {}
        fees = {} if fx_rate else settled  # what a conversion leaves open is an FX difference, not a fee
        fx_differences = settled if fx_rate else {}
        links = pl.DataFrame({"group_id": [group_id] * len(rows), "txn_id": [str(r[0]) for r in rows],
                              "payment_id": [r[1] for r in rows], "amount": [str(r[2]) for r in rows],
                              "fee": [str(fees.get((r[0], r[1]), Decimal(0))) for r in rows],
                              "fx_difference": [str(fx_differences.get((r[0], r[1]), Decimal(0))) for r in rows],
                              "fx_rate": [fx_rate.get(r[0]) for r in rows]}, schema_overrides={"fx_rate": pl.String})
        records.insert_groups(con, groups, links)
        group = _group(con, group_id)
        statuses = records.refresh_payments(con, payment_ids)
        records.emit_matched(con, group, statuses)
        records.audit(con, actor, "match.link", f"match:{group_id}", None, {**group, **evidence})
        learned = payer_aliases.learn(con, group_id, actor, payer_aliases.ALIAS)
    return {**group, "payments": _public(statuses), "aliases_learned": learned}


def _write_offs(rows: list[tuple[int, str, Decimal]], opens: dict[str, tuple[Decimal, str]]
                ) -> dict[tuple[int, str], Decimal]:
    """Per (txn, payment) link, the fee that settles what the linked money leaves of each payment's open amount
    (on the payment's last link)."""
    linked: dict[str, Decimal] = {}
    last: dict[str, tuple[int, str]] = {}
    for txn_id, payment_id, amount in rows:
        linked[payment_id] = linked.get(payment_id, Decimal(0)) + amount
        last[payment_id] = (txn_id, payment_id)
    return {last[pid]: opens[pid][0] - paid for pid, paid in linked.items() if opens[pid][0] > paid}


def unlink(ws: Workspace, group_id: str, *, actor: str, note: str | None = None) -> dict[str, Any]:
    """Undo a live match (automatic or manual): the pair is not proposed again; payments reopen."""
    with ws.connect() as con, transaction(con):
        group = _group(con, group_id)
        if group["status"] != LIVE:
            raise Conflict(f"match group {group_id} is {group['status']}, not matched; nothing to unlink")
        con.execute("UPDATE match_groups SET status = 'removed', pinned = TRUE, updated_at = now()"
                    " WHERE group_id = ?", [group_id])
        statuses = records.refresh_payments(con, [link["payment_id"] for link in group["links"]])
        records.emit_removed(con, group, statuses, actor)
        records.audit(con, actor, "match.unlink", f"match:{group_id}", group["rule_version"],
                      {**group, "note": note})
    return {**group, "status": "removed", "payments": _public(statuses)}


def accept(ws: Workspace, group_id: str, *, actor: str, note: str | None = None) -> dict[str, Any]:
    """Confirm a suggestion: it becomes a pinned match and the payments move on."""
    with ws.connect() as con, transaction(con):
        group = _suggestion(con, group_id)
        _check_free(con, group)
        con.execute("UPDATE match_groups SET status = ?, pinned = TRUE, updated_at = now() WHERE group_id = ?",
                    [LIVE, group_id])
        group = _group(con, group_id)
        statuses = records.refresh_payments(con, [link["payment_id"] for link in group["links"]])
        records.emit_matched(con, group, statuses)
        records.audit(con, actor, "match.accept", f"match:{group_id}", group["rule_version"],
                      {**group, "note": note})
        learned = payer_aliases.learn(con, group_id, actor, payer_aliases.ALIAS)
    return {**group, "payments": _public(statuses), "aliases_learned": learned}


def reject(ws: Workspace, group_id: str, *, actor: str, note: str | None = None) -> dict[str, Any]:
    """Turn a suggestion down: its pairs are never suggested again."""
    with ws.connect() as con, transaction(con):
        group = _suggestion(con, group_id)
        con.execute("UPDATE match_groups SET status = 'rejected', pinned = TRUE, updated_at = now()"
                    " WHERE group_id = ?", [group_id])
        records.audit(con, actor, "match.reject", f"match:{group_id}", group["rule_version"],
                      {**group, "note": note})
        learned = payer_aliases.learn(con, group_id, actor, payer_aliases.REJECTED)
    return {**group, "status": "rejected", "aliases_learned": learned}


def _suggestion(con: duckdb.DuckDBPyConnection, group_id: str) -> dict[str, Any]:
    group = _group(con, group_id)
    if group["status"] != "suggested":
        raise Conflict(f"match group {group_id} is {group['status']}, not a suggestion")
    return group


def _check_free(con: duckdb.DuckDBPyConnection, group: dict[str, Any]) -> None:
    for link_ in group["links"]:
        taken = con.execute(
            "SELECT g.group_id FROM matches x JOIN match_groups g USING (group_id)"
            " WHERE x.txn_id = ? AND g.status = ? AND g.group_id <> ?",
            [link_["txn_id"], LIVE, group["group_id"]],
        ).fetchall()
        if taken:
            raise Conflict(f"transaction {link_['txn_id']} is already matched in {taken[0][0]}")
    _open_amounts(con, [link_["payment_id"] for link_ in group["links"]])


def _in_currency(con: duckdb.DuckDBPyConnection, txns: dict[int, tuple[Decimal, str, dt.date]], currency: str
                 ) -> tuple[dict[int, tuple[Decimal, str]], dict[int, str]]:
    """The deposits' amounts in the payments' currency, and the rate used for each converted one.

    A deposit in another currency is converted at the stored rate (direct or crossed through a common currency)
    published at most the rules' `max_rate_age_days` before its booking day, exactly as the engine converts,
    rounded half up to the currency's minor unit; without such a rate the link is refused, never guessed."""
    foreign = {t: v for t, v in txns.items() if v[1] != currency}
    found = {t: (amount, cur) for t, (amount, cur, _day) in txns.items() if cur == currency}
    if not foreign:
        return found, {}
    max_age = rules_mod.load().fx_max_rate_age_days
    frame = pl.DataFrame(
        [{"t": t, "booked_on": day, "currency": cur, "cents": int(amount * 100)} for t, (amount, cur, day)
         in foreign.items()], schema={"t": pl.UInt32, "booked_on": pl.Date, "currency": pl.String, "cents": pl.Int64})
    converted = {row["t"]: row for row in fx_rates.convert(frame, fx_rates.load(con), max_age).filter(
        pl.col("currency") == currency).iter_rows(named=True)}
    rates: dict[int, str] = {}
    for t, (amount, cur, day) in foreign.items():
        if amount * 100 != int(amount * 100):
            raise InvalidInput(f"transaction {t} is {amount} {cur}: amounts with three decimals are not converted;"
                               " link it to payments in its own currency")
        if t not in converted:
            raise InvalidInput(
                f"transaction {t} is in {cur} and the payments in {currency}: no {cur}/{currency} rate for {day}"
                f" or the {max_age} days before it; import one with `reconwb rates import FILE`")
        found[t] = (Decimal(converted[t]["conv_cents"]) / 100, currency)
        rates[t] = str(Decimal(converted[t]["fx_rate_e8"]) / fx_rates.RATE_SCALE)
    return found, rates


def _transactions(con: duckdb.DuckDBPyConnection, txn_ids: list[int]) -> dict[int, tuple[Decimal, str, dt.date]]:
    found: dict[int, tuple[Decimal, str, dt.date]] = {}
    for txn_id in txn_ids:
        row = con.execute("SELECT amount, currency, booked_on FROM transactions WHERE txn_id = ?",
                          [txn_id]).fetchall()
        if not row:
            raise NotFound(f"no transaction {txn_id}")
        taken = con.execute(
            "SELECT g.group_id FROM matches x JOIN match_groups g USING (group_id) WHERE x.txn_id = ? AND g.status = ?",
            [txn_id, LIVE],
        ).fetchall()
        if taken:
            raise Conflict(f"transaction {txn_id} is already matched in {taken[0][0]}; unlink it first")
        if row[0][0] <= 0:
            raise InvalidInput(f"transaction {txn_id} is not a deposit (amount {row[0][0]})")
        found[txn_id] = (row[0][0], row[0][1], row[0][2])
    return found


def _open_amounts(con: duckdb.DuckDBPyConnection, payment_ids: list[str]) -> dict[str, tuple[Decimal, str]]:
    found: dict[str, tuple[Decimal, str]] = {}
    for pid in payment_ids:
        row = con.execute(
            f"SELECT p.amount - coalesce(m.paid, 0), p.currency, p.status FROM payments p"
            f" LEFT JOIN ({PAID_SQL}) m USING (payment_id) WHERE p.payment_id = ? AND {payment_visible('p')}",
            [pid],
        ).fetchall()
        if not row:
            raise NotFound(f"no payment {pid!r}")
        open_amount, currency, status = row[0]
        if status in ("paid", "cancelled"):
            raise Conflict(f"payment {pid} is {status}")
        found[pid] = (open_amount, currency)
    return found


def _public(statuses: dict[str, tuple[str, Decimal]]) -> dict[str, dict[str, Any]]:
    return {pid: {"status": s, "open_amount": a} for pid, (s, a) in sorted(statuses.items())}
