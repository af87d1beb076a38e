"""Recording a store-mode run: in bounded chunks, each one short transaction, resumable after a kill.

DuckDB lets one process write the file at a time, and reconwb's rule is that no open holds it longer than a
couple of seconds. A 1M x 1M run used to write for 72 s in one transaction while every reader waited or
failed. Now the engine's groups and links are ordered by cluster (groups that share a payment or a deposit,
which must be written together so that a payment's status and its event see all of its groups), staged as
Parquet next to the store (`<store>.staging/<run id>/`) before the store is opened for writing, and applied
cluster-aligned chunk by chunk. Each chunk is whole: its groups, links, payment statuses, events and audit
rows, plus the run's progress in `reconcile_runs.rows_done`, commit together. A run killed between chunks
leaves a consistent store, and the next reconcile finishes it before it computes anew.

Chunk sizes follow measured time and waiting processes go first between two chunks (`store.chunks`). A run
that fits one chunk is written in one transaction, as before, without staging. Readers may see a run
half-applied (some clusters recorded, others not yet); every state they see is consistent, and the run's
report is audited last.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import polars as pl

from reconwb import events, jsonutil, money
from reconwb.events import new_id
from reconwb.matching import records
from reconwb.matching.records import LIVE
from reconwb.private import private_dir
from reconwb.store import chunks
from reconwb.store.chunks import Pace, in_chunks
from reconwb.store.db import registered, transaction

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

FIRST_CHUNK_ROWS = chunks.FIRST_CHUNK_ROWS  # links in the first chunk (a run that fits is one transaction)
MIN_CHUNK_ROWS = chunks.MIN_CHUNK_ROWS
MAX_CHUNK_ROWS = chunks.MAX_CHUNK_ROWS
STALE_STAGING_SECONDS = 3600.0  # a staging folder no run refers to (killed before it was recorded) goes after this


@dataclass(frozen=True)
class Run:
    """What a run writes, ordered by cluster; `start`/`end` on every row: its cluster's span of link rows."""

    groups: pl.DataFrame
    links: pl.DataFrame
    ends: np.ndarray  # every cluster's end, ascending
    rule_version: str
    report: dict[str, Any]
    incremental: bool

    @property
    def group_starts(self) -> np.ndarray:
        return self.groups["start"].to_numpy()


def record(ws: Workspace, groups: pl.DataFrame, links: pl.DataFrame, rule_version: str, report: dict[str, Any],
           connection: str | None, txn_ids: list[int] | None) -> int:
    """Write a run's groups and links (from `engine._group_rows`); return the number of write transactions."""
    if links.height <= FIRST_CHUNK_ROWS:
        run = _clustered(groups, links, rule_version, report, incremental=txn_ids is not None)
        with ws.connect() as con, transaction(con):
            _begin(con, connection, txn_ids)
            _apply(con, run.groups, run.links, rule_version, run.incremental)
            records.audit(con, "reconwb", "reconcile.run", None, rule_version, report)
        return 1
    with ws.connect() as con:  # where each payment lies in its table: chunks then touch few of its row groups
        places = con.sql("SELECT payment_id, rowid AS place FROM payments").pl()
    run = _clustered(groups, links, rule_version, report, incremental=txn_ids is not None, places=places)
    run_id = new_id("rcn")
    stage = private_dir(_staging_root(ws) / run_id)
    run.groups.write_parquet(stage / "groups.parquet")
    run.links.write_parquet(stage / "links.parquet")
    with ws.connect() as con, transaction(con):
        _begin(con, connection, txn_ids)
        con.execute(
            "INSERT INTO reconcile_runs (run_id, stage_dir, rows_total, rule_version, connection, incremental,"
            " report) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, str(stage), run.links.height, rule_version, connection, run.incremental,
             jsonutil.dumps(report)],
        )
    return 1 + _apply_chunks(ws, run_id, run)


def resume(ws: Workspace) -> int:
    """Finish the runs a kill interrupted (oldest first); return how many. A run whose staged files are gone
    is closed as abandoned: what it wrote stays (every chunk is whole) and the next run computes the rest."""
    with ws.connect() as con:
        pending = con.execute(
            "SELECT run_id, stage_dir, rule_version, CAST(report AS VARCHAR), incremental FROM reconcile_runs"
            " WHERE finished_at IS NULL ORDER BY staged_at"
        ).fetchall()
    for run_id, stage_dir, rule_version, report, incremental in pending:
        stage = Path(stage_dir)
        try:
            groups = pl.read_parquet(stage / "groups.parquet")
            links = pl.read_parquet(stage / "links.parquet")
        except (OSError, pl.exceptions.PolarsError) as err:
            log.warning("reconcile run %s cannot be resumed (%s); what it wrote is kept", run_id, err)
            with ws.connect() as con:
                con.execute("UPDATE reconcile_runs SET finished_at = now() WHERE run_id = ?", [run_id])
            continue
        log.info("finishing reconcile run %s, interrupted before", run_id)
        ends = np.unique(links["end"].to_numpy())
        _apply_chunks(ws, run_id, Run(groups, links, ends, rule_version, json.loads(report), incremental))
    _sweep_staging(ws)
    return len(pending)


# -- ordering by cluster ----------------------------------------------------------------------------------------


def _clustered(groups: pl.DataFrame, links: pl.DataFrame, rule_version: str, report: dict[str, Any],
               *, incremental: bool, places: pl.DataFrame | None = None) -> Run:
    """Order groups and links by cluster: groups connected through a shared payment or deposit.

    With `places` (payment_id, place: its row in `payments`), clusters go in the order of their first payment's
    place: each chunk then updates payments that lie together, and the checkpoint after it rewrites a few row
    groups of `payments` instead of all of them (measured at 1M: the difference between 0.3 s and 4 s a chunk).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = groups.select("group_id").with_row_index("g")
    linked = links.join(index, on="group_id", how="left", maintain_order="left")
    edges = pl.concat([
        linked.select("g", other=pl.col("g").min().over(key)) for key in ("payment_id", "txn_id")
    ])
    n = groups.height
    graph = coo_matrix((np.ones(edges.height, dtype=np.int8),
                        (edges["g"].to_numpy(), edges["other"].to_numpy())), shape=(n, n))
    _count, labels = connected_components(graph, directed=False)
    clustered = index.with_columns(cluster=pl.Series(labels, dtype=pl.Int64))
    if places is None:
        clustered = clustered.with_columns(first=pl.col("g").min().over("cluster"))
    else:
        place = linked.join(places, on="payment_id", how="left").group_by("g").agg(place=pl.col("place").min())
        clustered = clustered.join(place, on="g", how="left").with_columns(  # unique per cluster: its first g
            first=(pl.col("place").fill_null(-1).min().over("cluster") + 1) * (n + 1)
            + pl.col("g").min().over("cluster")).drop("place")
    order = clustered.sort("first", "g").with_row_index("pos")
    sizes = linked.group_by("g").agg(rows=pl.len())
    spans = (order.join(sizes, on="g", how="left").with_columns(pl.col("rows").fill_null(0))
             .group_by("first").agg(rows=pl.col("rows").sum()).sort("first")
             .with_columns(end=pl.col("rows").cum_sum()).with_columns(start=pl.col("end") - pl.col("rows"))
             .select("first", "start", "end"))
    keyed = order.join(spans, on="first").select("group_id", "pos", "start", "end")
    ordered_groups = groups.join(keyed, on="group_id").sort("pos").drop("pos")
    # stable: within a group, links keep the engine's order
    ordered_links = links.join(keyed, on="group_id", maintain_order="left").sort("pos", maintain_order=True).drop("pos")
    return Run(ordered_groups, ordered_links, np.unique(spans["end"].to_numpy()), rule_version, report,
               incremental)


# -- chunks -----------------------------------------------------------------------------------------------------


def _apply_chunks(ws: Workspace, run_id: str, run: Run) -> int:
    """Apply what is left of a staged run, one cluster-aligned chunk per transaction; return how many.

    Each chunk's rows and event payloads are cut and built before the store is opened (`before`), from where
    the last chunk ended; inside the hold only SQL runs. Should another process have moved the run meanwhile,
    the chunk is cut again inside."""
    total = run.links.height
    ahead: dict[str, Any] = {"done": None}

    def cut(done: int, size: int) -> dict[str, Any]:
        end = int(run.ends[min(int(np.searchsorted(run.ends, done + size)), len(run.ends) - 1)])
        first, stop = np.searchsorted(run.group_starts, [done, end])  # groups and links run in cluster order
        groups = run.groups.slice(first, stop - first).drop("start", "end")
        links = run.links.slice(done, end - done).drop("start", "end")
        return {"done": done, "size": size, "end": end, "groups": groups, "links": links,
                "events": _event_parts(groups, links)}

    def before(size: int) -> None:
        if ahead["done"] is not None:
            ahead.update(cut(ahead["done"], size))

    def step(con: duckdb.DuckDBPyConnection, size: int) -> tuple[int, bool] | None:
        row = con.execute("SELECT rows_done, finished_at FROM reconcile_runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None or row[1] is not None:
            return None  # finished meanwhile by another process
        done = int(row[0])
        chunk = ahead if (ahead["done"], ahead.get("size")) == (done, size) else cut(done, size)
        end = chunk["end"]
        _apply(con, chunk["groups"], chunk["links"], run.rule_version, run.incremental, chunk["events"])
        last = end >= total
        con.execute("UPDATE reconcile_runs SET rows_done = ?, finished_at = CASE WHEN ? THEN now() END"
                    " WHERE run_id = ?", [end, last, run_id])
        if last:
            records.audit(con, "reconwb", "reconcile.run", None, run.rule_version, run.report)
        ahead["done"] = end
        return end - done, last

    count = in_chunks(ws.connect, ws.db_path, step, Pace(FIRST_CHUNK_ROWS, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS), before)
    shutil.rmtree(_staging_root(ws) / run_id, ignore_errors=True)
    return count


def _staging_root(ws: Workspace) -> Path:
    return chunks.staging_root(ws.db_path)


def _sweep_staging(ws: Workspace) -> None:
    """Remove staging folders of runs killed before they were recorded (none refers to them, and old)."""
    root = _staging_root(ws)
    if not root.is_dir():
        return
    with ws.connect() as con:
        live = {r[0] for r in con.execute("SELECT run_id FROM reconcile_runs WHERE finished_at IS NULL").fetchall()}
    for folder in root.iterdir():
        if folder.name not in live and time.time() - folder.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


# -- one unit of writing ----------------------------------------------------------------------------------------

_STALE_SUGGESTIONS_SQL = """
CREATE TEMP TABLE _replaced AS
SELECT g.group_id FROM match_groups g
WHERE g.status = 'suggested' AND NOT g.pinned AND (CAST(? AS VARCHAR) IS NULL OR EXISTS (
    SELECT 1 FROM matches x JOIN transactions t ON t.txn_id = x.txn_id JOIN accounts a USING (account_id)
    JOIN connections c USING (connection_id) WHERE x.group_id = g.group_id AND c.name = ?))
  AND (CAST(? AS BIGINT[]) IS NULL OR EXISTS (
    SELECT 1 FROM matches x WHERE x.group_id = g.group_id AND list_contains(?, x.txn_id)))
"""
# after an incremental run: older automatic suggestions for the payments it paid or the deposits it matched
_MOOT_SUGGESTIONS_SQL = """
CREATE TEMP TABLE _replaced AS
SELECT DISTINCT g.group_id FROM match_groups g JOIN matches x USING (group_id)
WHERE g.status = 'suggested' AND NOT g.pinned AND (list_contains(?, x.payment_id) OR list_contains(?, x.txn_id))
"""


def _drop_replaced(con: duckdb.DuckDBPyConnection, select_sql: str, params: list[object]) -> None:
    con.execute(select_sql, params)
    con.execute("DELETE FROM matches WHERE group_id IN (SELECT group_id FROM _replaced)")
    con.execute("DELETE FROM match_groups WHERE group_id IN (SELECT group_id FROM _replaced)")
    con.execute("DROP TABLE _replaced")


def _begin(con: duckdb.DuckDBPyConnection, connection: str | None, txn_ids: list[int] | None) -> None:
    # this run's suggestions replace the automatic ones it covers (all, one connection's, or these deposits')
    _drop_replaced(con, _STALE_SUGGESTIONS_SQL, [connection, connection, txn_ids, txn_ids])
    if txn_ids is not None:  # queued by their ingest (`reconwb.autoreconcile`): reconciled now, with this write
        con.execute("DELETE FROM reconcile_queue WHERE list_contains(?, txn_id)", [txn_ids])


def _apply(con: duckdb.DuckDBPyConnection, groups: pl.DataFrame, links: pl.DataFrame, rule_version: str,
           incremental: bool, prebuilt: pl.DataFrame | None = None) -> None:
    """Record whole clusters of groups: links, payment statuses, events, audit rows.

    `prebuilt`: the groups' payment events as `_event_parts` builds them (built here when not given)."""
    # whatever a person or another run settled since we read is left alone
    with registered(con, "_new_links", links.to_arrow()):
        # joins that start from this chunk's links: a big store's matches are probed, never all joined
        stale = con.sql(
            f"""
            SELECT n.group_id FROM _new_links n JOIN matches x ON x.txn_id = CAST(n.txn_id AS BIGINT)
            JOIN match_groups g ON g.group_id = x.group_id WHERE g.status = '{LIVE}'
            UNION
            SELECT n.group_id FROM _new_links n JOIN payments p ON p.payment_id = n.payment_id
            WHERE p.status IN ('paid', 'cancelled')
            """
        ).pl()
    if not stale.is_empty():
        groups = groups.join(stale, on="group_id", how="anti")
        links = links.join(stale, on="group_id", how="anti")
    if groups.is_empty():
        return
    records.insert_groups(con, groups, links)
    live = groups.filter(pl.col("status") == LIVE)
    statuses = records.refresh_payments(
        con, links.join(live.select("group_id"), on="group_id")["payment_id"].to_list()
    )
    parts = _event_parts(groups, links) if prebuilt is None else prebuilt
    if not stale.is_empty():
        parts = parts.join(stale, on="group_id", how="anti")
    _emit_payment_events(con, parts, statuses)
    if incremental:
        paid = [pid for pid, (status, _open) in statuses.items() if status == "paid"]
        live_txns = [int(t) for t in links.join(live.select("group_id"), on="group_id")["txn_id"].to_list()]
        _drop_replaced(con, _MOOT_SUGGESTIONS_SQL, [paid, live_txns])
    with registered(con, "_audit", groups.select("group_id", "status", "rule", "confidence").to_arrow()):
        con.execute(
            "INSERT INTO audit_log (actor, action, subject, rule_version, detail) SELECT 'reconwb',"
            " CASE WHEN status = 'matched' THEN 'match.auto' ELSE 'match.suggested' END, 'match:' || group_id, ?,"
            " json_object('rule', rule, 'confidence', confidence) FROM _audit",
            [rule_version],
        )


# -- payment events, built before the hold --------------------------------------------------------------------

def _event_parts(groups: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Each live group's payment events (what `records.payment_event` says) with everything but the payment's new
    status and open amount already serialised: (group_id, payment_id, event_id, head, rest), `head` the JSON up
    to the status, `rest` after the open amount. Built before the store is opened, in columns: built per payment
    in Python (`json.dumps`, `uuid4`) it was most of the write (a 300k run took 20.1 s then, 14.5 s now)."""
    live = groups.filter(pl.col("status") == LIVE).select("group_id", "kind", "rule", "confidence")
    too_fine = pl.col("amount", "fee", "fx_difference").str.contains(r"\.\d{4,}$")
    if links.select(pl.any_horizontal(too_fine).any()).item():
        raise ValueError("a link's money has more than the store's three decimals; it is not rounded")
    linked = links.join(live, on="group_id").with_columns(
        *_decimal_parts("fee", "fee"), *_decimal_parts("fx_difference", "fx"),
        _money_text(*_decimal_parts("amount", "amount")).alias("amount"),
    ).with_columns(fee=_money_text(pl.col("fee_mills"), pl.col("fee_places")),
                   fx_difference=_money_text(pl.col("fx_mills"), pl.col("fx_places")))
    nonzero = {name: pl.when(pl.col(f"{name}_mills") != 0).then(pl.col(f"{name}_places")) for name in ("fee", "fx")}
    per_payment = linked.group_by("group_id", "payment_id", maintain_order=True).agg(
        pl.col("kind", "rule", "confidence", "explanation").first(),
        # a Decimal sum: zeros count as Decimal(0), the total has the most places of its other terms
        *(pl.col(f"{name}_mills").sum().alias(f"{name}_total") for name in ("fee", "fx")),
        *(places.max().fill_null(0).alias(f"{name}_total_places") for name, places in nonzero.items()),
        transactions=pl.struct(pl.col("txn_id").cast(pl.Int64), "amount", "fee", "fx_difference"),
    )
    rest = pl.struct(
        fee=_money_text(pl.col("fee_total"), pl.col("fee_total_places")),
        fx_difference=_money_text(pl.col("fx_total"), pl.col("fx_total_places")),
        group_id="group_id", match_kind="kind", rule="rule", confidence="confidence", transactions="transactions",
        explanation="explanation",
    ).struct.json_encode()
    return per_payment.select(
        "group_id", "payment_id",
        event_id=pl.Series(events.new_ids("evt", per_payment.height), dtype=pl.String),
        head=pl.struct("payment_id").struct.json_encode().str.head(-1) + pl.lit(', "status": '),
        rest=pl.lit(", ") + rest.str.slice(1),
    )


def _decimal_parts(column: str, name: str) -> tuple[pl.Expr, pl.Expr]:
    """A decimal text (`10.00`, `-0.05`, `1.235`, `0`: at most the store's three places) as its value in
    thousandths and its number of places, the two things a `Decimal` made of it keeps."""
    text = pl.col(column)
    fraction = text.str.extract(r"\.(\d*)$").fill_null("")
    whole = text.str.extract(r"^-?(\d+)").cast(pl.Int64)
    mills = whole * 1000 + (fraction + pl.lit("000")).str.slice(0, 3).cast(pl.Int64)
    sign = pl.when(text.str.starts_with("-")).then(-1).otherwise(1)
    return (sign * mills).alias(f"{name}_mills"), fraction.str.len_chars().alias(f"{name}_places")


def _money_text(mills: pl.Expr, places: pl.Expr) -> pl.Expr:
    """How `jsonutil` writes such a `Decimal`: with its own places (`str`), but the store's three places as
    `money.text` shows them (two when the third is zero)."""
    shown = pl.when((places == 3) & (mills % 10 == 0)).then(2).otherwise(places)
    magnitude = mills.abs()
    whole = (magnitude // 1000).cast(pl.String)
    fraction = (magnitude % 1000).cast(pl.String).str.zfill(3)
    digits = pl.when(shown == 0).then(whole).otherwise(whole + pl.lit(".") + fraction.str.head(shown))
    return pl.when(mills < 0).then(pl.lit("-") + digits).otherwise(digits)


def _emit_payment_events(con: duckdb.DuckDBPyConnection, parts: pl.DataFrame,
                         statuses: dict[str, tuple[str, Decimal]]) -> None:
    """The events of `parts`, completed in SQL with each payment's status after this write (what
    `records.payment_event` says: `payment.matched` when paid in full, else `payment.partially_matched`)."""
    if parts.is_empty():
        return
    now = pl.DataFrame([(pid, status, str(open_amount) if open_amount is not None else None)
                        for pid, (status, open_amount) in statuses.items()],
                       schema={"payment_id": pl.String, "status": pl.String, "open_amount": pl.String}, orient="row")
    with registered(con, "_parts", parts.to_arrow()), registered(con, "_now", now.to_arrow()):
        open_text = money.text_sql("CAST(s.open_amount AS DECIMAL(18, 3))")
        con.execute(f"""
            CREATE TEMP TABLE _payment_events AS
            SELECT e.event_id, CASE WHEN coalesce(s.status, 'open') = 'paid' THEN 'payment.matched'
                                    ELSE 'payment.partially_matched' END AS type,
                   'payment:' || e.payment_id AS subject,
                   e.head || to_json(coalesce(s.status, 'open')) || ', "open_amount": '
                   || CASE WHEN s.open_amount IS NULL THEN 'null' ELSE to_json({open_text}) END || e.rest AS payload
            FROM _parts e LEFT JOIN _now s USING (payment_id)
        """)
    try:
        events.emit_table(con, "_payment_events")
    finally:
        con.execute("DROP TABLE _payment_events")
