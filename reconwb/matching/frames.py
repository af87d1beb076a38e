"""The two inputs of the engine as polars frames, normalised once, with money in integer cents.

Both file mode and store mode build these frames and hand them to the same engine, so what is compared is
defined here only: references upper-cased with punctuation dropped, the tokens a description carries that could
be references, payer names as `payers.payer_words` reads them (and their key without spaces), and the invoice's
life (issue and due dates, each standing in for the other when missing).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from reconwb.matching.payers import payer_words
from reconwb.matching.rules import Rules
from reconwb.money import MONEY
from reconwb.tabular import per_distinct

TXN_COLUMNS: dict[str, pl.DataType] = {
    "txn_id": pl.String(),
    "account": pl.String(),
    "booked_on": pl.Date(),
    "cents": pl.Int64(),
    "currency": pl.String(),
    "description": pl.String(),
    "reference": pl.String(),
    "counterparty": pl.String(),
    "counterparty_iban": pl.String(),
}
PAYMENT_COLUMNS: dict[str, pl.DataType] = {
    "payment_id": pl.String(),
    "cents": pl.Int64(),  # what is still open
    "total_cents": pl.Int64(),  # what was invoiced
    "currency": pl.String(),
    "issued_on": pl.Date(),
    "due_on": pl.Date(),
    "reference": pl.String(),
    "payer": pl.String(),
    "payer_iban": pl.String(),
    "account_ref": pl.String(),
}


def cents(expr: pl.Expr) -> pl.Expr:
    """A money column as exact integer cents; null (never matched automatically) for an amount with a third
    decimal (KWD, BHD...: 1.235), which has no exact number of cents and must not be rounded into one."""
    milli = (expr.cast(MONEY) * 1000).cast(pl.Int64)
    return pl.when(milli % 10 == 0).then(milli // 10).otherwise(None)


def cents_text(expr: pl.Expr) -> pl.Expr:
    """Integer cents back as exact decimal text ("-0.05" included), for the store's DECIMAL columns."""
    magnitude = expr.abs()
    text = pl.format("{}.{}", magnitude // 100, (magnitude % 100).cast(pl.String).str.zfill(2))
    return pl.when(expr < 0).then(pl.lit("-") + text).otherwise(text)


def rate_text(expr: pl.Expr) -> pl.Expr:
    """A rate scaled by 10^8 (`rates.RATE_SCALE`) as exact decimal text ("0.92165899"), null stays null."""
    return pl.format("{}.{}", expr // 100_000_000, (expr % 100_000_000).cast(pl.String).str.zfill(8))


def norm_ref(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null("").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def norm_iban(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null("").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def prepare_transactions(frame: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Transactions with row index `t`, normalised reference, candidate reference tokens and payer key."""
    frame = _conform(frame, TXN_COLUMNS)
    text = pl.concat_str([pl.col("reference").fill_null(""), pl.col("description").fill_null("")], separator=" ")
    token_lists = [text.str.extract_all(p) for p in rules.token_patterns]
    tokens = token_lists[0] if len(token_lists) == 1 else pl.concat_list(token_lists)
    # the whole reference field is a token too ("inv 2026/0042" is INV20260042 as a whole)
    tokens = pl.concat_list(pl.col("reference").fill_null(""), tokens)
    return frame.with_row_index("t").with_columns(
        ref_norm=norm_ref(pl.col("reference")),
        tokens=tokens.list.eval(norm_ref(pl.element()))
        .list.eval(pl.element().filter((pl.element().str.len_chars() >= 3) & pl.element().str.contains(r"\d")))
        .list.unique(),
        payer_words=_once(frame["counterparty"], payer_words),
        iban=norm_iban(pl.col("counterparty_iban")),
        account=pl.col("account").fill_null(""),
    ).with_columns(payer_key=pl.col("payer_words").str.replace_all(" ", ""))


def prepare_payments(frame: pl.DataFrame) -> pl.DataFrame:
    """Payments with row index `p`, their life (`opens` at issue, `anchor` at due; each the other when missing),
    normalised reference and payer key."""
    frame = _conform(frame, PAYMENT_COLUMNS)
    return frame.with_row_index("p").with_columns(
        anchor=pl.coalesce("due_on", "issued_on"),
        opens=pl.coalesce("issued_on", "due_on"),
        ref_norm=norm_ref(pl.col("reference")),
        payer_words=_once(frame["payer"], payer_words),
        iban=norm_iban(pl.col("payer_iban")),
        account_ref=pl.col("account_ref").fill_null(""),
        total_cents=pl.coalesce("total_cents", "cents"),
    ).with_columns(payer_key=pl.col("payer_words").str.replace_all(" ", ""))


def beside(links: pl.DataFrame, frame: pl.DataFrame, key: str, **columns: str) -> pl.DataFrame:
    """`links` with `frame`'s columns (`new name=frame column`) of the row each link's `key` names, null where
    none: a left join on the row number. When `frame[key]` is its row numbers in order (what `prepare_*` make),
    the columns are gathered by position instead: at a million links that is a fraction of the join's time."""
    picked = frame.select(key, *(pl.col(c).alias(name) for name, c in columns.items()))
    rows = links[key]
    if rows.null_count() == 0 and (rows.is_empty() or 0 <= rows.min() and rows.max() < frame.height) \
            and np.array_equal(frame[key].to_numpy(), np.arange(frame.height)):
        return links.hstack(picked.drop(key).select(pl.all().gather(rows)).get_columns())
    return links.join(picked, on=key, how="left", maintain_order="left")


def _once(values: pl.Series, normalise: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """`normalise` applied to each distinct value once (payers repeat: a million rows have far fewer names)."""
    frame = pl.DataFrame({"value": values.fill_null("")})
    return per_distinct(frame, ["value"], [normalise(pl.col("value")).alias("normal")])["normal"]


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=schema[c]).alias(c) for c in missing)
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())
