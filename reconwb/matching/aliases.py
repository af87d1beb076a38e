"""Payer aliases learned from people: who pays under which name.

When a person links or accepts a deposit whose counterparty name or IBAN is not the invoice's payer ("ACME
PAYMENTS SERVICES 7" paying for "Tyrell Umbrella GmbH 3693"), the pair is remembered (counterparty -> payer),
audited, and used as payer evidence by later runs, so the next deposit from that counterparty auto-matches on
payer and amount. A rejected suggestion whose names differ is remembered the other way: that name pair is
evidence against, and stops counting as the same payer. `reconwb payers aliases` lists and removes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from reconwb.errors import NotFound
from reconwb.matching.frames import norm_iban
from reconwb.matching.payers import payer_key

if TYPE_CHECKING:
    import duckdb

    from reconwb.workspace import Workspace

ALIAS, REJECTED = "alias", "rejected"
ALIAS_COLUMNS = {"kind": pl.String(), "counterparty_key": pl.String(), "counterparty": pl.String(),
                 "payer_key": pl.String(), "polarity": pl.String()}

_GROUP_PARTIES_SQL = """
SELECT x.txn_id, x.payment_id, coalesce(t.counterparty, '') AS counterparty,
       coalesce(t.counterparty_iban, '') AS counterparty_iban, coalesce(p.payer, '') AS payer,
       coalesce(p.payer_iban, '') AS payer_iban
FROM matches x JOIN transactions t ON t.txn_id = x.txn_id JOIN payments p ON p.payment_id = x.payment_id
WHERE x.group_id = ?
"""


def _pairs(con: duckdb.DuckDBPyConnection, group_id: str) -> pl.DataFrame:
    """The group's (counterparty, payer) pairs whose names (read as `payers.payer_key`) or IBANs differ."""
    rows = con.sql(_GROUP_PARTIES_SQL, params=[group_id]).pl()
    if rows.is_empty():
        return rows
    rows = rows.with_columns(
        c_key=payer_key(pl.col("counterparty")), p_key=payer_key(pl.col("payer")),
        c_iban=norm_iban(pl.col("counterparty_iban")), p_iban=norm_iban(pl.col("payer_iban")),
    )
    names = rows.filter((pl.col("c_key") != "") & (pl.col("p_key") != "") & (pl.col("c_key") != pl.col("p_key")))
    ibans = rows.filter((pl.col("c_iban") != "") & (pl.col("p_key") != "") & (pl.col("c_iban") != pl.col("p_iban")))
    return pl.concat([
        names.select(kind=pl.lit("name"), counterparty_key="c_key", counterparty="counterparty", payer_key="p_key",
                     payer="payer"),
        ibans.select(kind=pl.lit("iban"), counterparty_key="c_iban", counterparty="c_iban", payer_key="p_key",
                     payer="payer"),
    ]).unique(["kind", "counterparty_key", "payer_key"])


def learn(con: duckdb.DuckDBPyConnection, group_id: str, actor: str, polarity: str) -> list[dict[str, Any]]:
    """Remember what a person's decision on `group_id` says about payers: `alias` (a link or an accept) or
    `rejected` (a turned-down suggestion). An alias replaces an earlier rejection of the same pair; a rejection
    never overrides an alias (the person turned down this invoice, not the payer). Audited."""
    from reconwb import events  # the store's modules: not imported where the engine only reads aliases
    from reconwb.matching import records

    pairs = _pairs(con, group_id)
    learned = []
    for row in pairs.iter_rows(named=True):
        if polarity == REJECTED and row["kind"] == "iban":
            continue  # an IBAN says who sent the money, whatever the invoice: nothing to learn from a rejection
        existing = con.execute(
            "SELECT alias_id, polarity FROM payer_aliases WHERE kind = ? AND counterparty_key = ? AND payer_key = ?",
            [row["kind"], row["counterparty_key"], row["payer_key"]],
        ).fetchall()
        if existing and (existing[0][1] == polarity or polarity == REJECTED):
            continue
        if existing:
            con.execute("DELETE FROM payer_aliases WHERE alias_id = ?", [existing[0][0]])
        alias_id = events.new_id("alias")
        con.execute(
            "INSERT INTO payer_aliases (alias_id, kind, counterparty_key, counterparty, payer_key, payer, polarity,"
            " group_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [alias_id, row["kind"], row["counterparty_key"], row["counterparty"], row["payer_key"], row["payer"],
             polarity, group_id, actor],
        )
        detail = {"alias_id": alias_id, **row, "polarity": polarity, "group_id": group_id}
        records.audit(con, actor, f"payer.{polarity}", f"alias:{alias_id}", None, detail)
        learned.append(detail)
    return learned


def for_engine(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What the engine needs of every alias and rejection (`ALIAS_COLUMNS`)."""
    return con.sql("SELECT kind, counterparty_key, counterparty, payer_key, polarity FROM payer_aliases").pl().cast(
        ALIAS_COLUMNS)  # type: ignore[arg-type]


def list_aliases(ws: Workspace, polarity: str | None = None) -> pl.DataFrame:
    """Every remembered alias (and, with `polarity=None`, every rejected pair), newest first."""
    with ws.connect() as con:
        return con.sql(
            "SELECT alias_id, kind, counterparty, payer, polarity, group_id, created_by, created_at"
            " FROM payer_aliases WHERE (CAST(? AS VARCHAR) IS NULL OR polarity = ?)"
            " ORDER BY created_at DESC, alias_id",
            params=[polarity, polarity],
        ).pl()


def remove(ws: Workspace, alias_id: str, *, actor: str) -> dict[str, Any]:
    """Forget an alias or a rejection; later runs no longer use it. Audited."""
    from reconwb.matching import records
    from reconwb.store.db import transaction

    with ws.connect() as con, transaction(con):
        row = con.execute(
            "SELECT alias_id, kind, counterparty, payer, polarity, group_id FROM payer_aliases WHERE alias_id = ?",
            [alias_id],
        ).fetchall()
        if not row:
            raise NotFound(f"no payer alias {alias_id!r}")
        detail = dict(zip(("alias_id", "kind", "counterparty", "payer", "polarity", "group_id"), row[0], strict=True))
        con.execute("DELETE FROM payer_aliases WHERE alias_id = ?", [alias_id])
        records.audit(con, actor, "payer.alias_removed", f"alias:{alias_id}", None, detail)
    return detail


def expand(txns: pl.DataFrame, aliases: pl.DataFrame | None) -> pl.DataFrame:
    """For deposits whose name or IBAN is a known alias: (t, payer_key it stands for, alias_name)."""
    empty = pl.DataFrame(schema={"t": pl.UInt32, "payer_key": pl.String, "alias_name": pl.String})
    if aliases is None or aliases.is_empty():
        return empty
    known = aliases.filter(pl.col("polarity") == ALIAS)
    by_name = txns.filter(pl.col("payer_key") != "").select("t", name="payer_key").join(
        known.filter(pl.col("kind") == "name"), left_on="name", right_on="counterparty_key"
    ).select("t", "payer_key", alias_name="counterparty")
    by_iban = txns.filter(pl.col("iban") != "").select("t", "iban").join(
        known.filter(pl.col("kind") == "iban"), left_on="iban", right_on="counterparty_key"
    ).select("t", "payer_key", alias_name="counterparty")
    return pl.concat([by_name, by_iban]).unique(["t", "payer_key"])


def rejected(aliases: pl.DataFrame | None) -> pl.DataFrame:
    """Name pairs a person turned down: (t_payer, p_payer) keys."""
    if aliases is None or aliases.is_empty():
        return pl.DataFrame(schema={"t_payer": pl.String, "p_payer": pl.String})
    return aliases.filter((pl.col("polarity") == REJECTED) & (pl.col("kind") == "name")).select(
        t_payer="counterparty_key", p_payer="payer_key").unique()
