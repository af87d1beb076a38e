"""Exchange rates: reading rate files, keeping them in the store, and converting deposits at the day's rate.

A rate says `1 base = rate quote` on a day. Two file layouts are read: the simple `date,base,quote,rate` and the
ECB's reference-rate CSV (`Date,USD,JPY,...`, one row per day, every rate against EUR, `N/A` where none).

Conversion is exact integer maths on rates scaled to `RATE_SCALE` (eight decimals, as the store keeps them):
a deposit's minor units become the invoice currency's minor units rounded half up, and whatever that leaves of
the invoice is the FX difference, recorded on the link as a fee is, so nothing is rounded away silently.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from reconwb import money, tabular
from reconwb.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb

RATE_SCALE = 10**8
RATE_COLUMNS = {"day": pl.Date(), "base": pl.String(), "quote": pl.String(), "rate_e8": pl.Int64()}
_CODE = r"^[A-Z]{3}$"
_RATE = r"^\d{1,10}(\.\d{1,8})?$"


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=RATE_COLUMNS)


def _scaled(text: pl.Expr) -> pl.Expr:
    """A rate as decimal text ("1.0850") as an integer of RATE_SCALE units (108500000)."""
    whole = text.str.extract(r"^(\d+)").cast(pl.Int64)
    frac = text.str.extract(r"\.(\d+)$").fill_null("").str.pad_end(8, "0").cast(pl.Int64)
    return whole * RATE_SCALE + frac


def read_file(path: str | Path) -> pl.DataFrame:
    """Rates from a `date,base,quote,rate` CSV or an ECB-style CSV; every bad value is an error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{path}: cannot read: {str(err).strip().splitlines()[0]}") from None
    columns = [c.strip() for c in raw.columns]
    raw.columns = columns
    if {"date", "base", "quote", "rate"} <= {c.lower() for c in columns}:
        raw = raw.rename({c: c.lower() for c in columns})
        long = raw.select("date", "base", "quote", "rate")
    elif columns and columns[0].lower() == "date" and len(columns) > 1:
        codes = [c for c in columns[1:] if c]
        bad = [c for c in codes if not pl.Series([c]).str.contains(_CODE)[0]]
        if bad:
            raise InvalidInput(f"{path}: ECB-style column {bad[0]!r} is not a currency code")
        long = raw.rename({columns[0]: "date"}).unpivot(index="date", on=codes, variable_name="quote",
                                                        value_name="rate").with_columns(base=pl.lit("EUR"))
        long = long.filter(pl.col("rate").is_not_null() & ~pl.col("rate").str.strip_chars().is_in(["N/A", ""]))
    else:
        raise InvalidInput(f"{path}: expected columns date,base,quote,rate or an ECB-style Date,USD,... header")
    long = long.with_row_index("line", offset=2).with_columns(
        pl.col("base", "quote").str.strip_chars().str.to_uppercase(), pl.col("rate").str.strip_chars(),
    )
    day = tabular.date(long, "date", path, required=True)
    for column in ("base", "quote"):
        bad = long.filter(~pl.col(column).fill_null("").str.contains(_CODE))
        if not bad.is_empty():
            raise InvalidInput(f"{path}: line {bad['line'][0]}: {column} {bad[column][0]!r} is not a currency code")
    bad = long.filter(~pl.col("rate").fill_null("").str.contains(_RATE) | (_scaled(pl.col("rate")) == 0))
    if not bad.is_empty():
        raise InvalidInput(f"{path}: line {bad['line'][0]}: rate {bad['rate'][0]!r} is not a positive decimal"
                           " with at most 8 places")
    same = long.filter(pl.col("base") == pl.col("quote"))
    if not same.is_empty():
        raise InvalidInput(f"{path}: line {same['line'][0]}: base and quote are both {same['base'][0]}")
    frame = long.select(day=day, base="base", quote="quote", rate_e8=_scaled(pl.col("rate")))
    return frame.unique(["day", "base", "quote"], keep="last").sort("day", "base", "quote")


def import_file(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict[str, int]:
    """Store the rates of a file (a rate already stored for that day and pair is replaced); all or nothing."""
    from reconwb.store.db import registered  # file mode reads rate files without the store

    frame = read_file(path)
    with registered(con, "_rates", frame.with_columns(source=pl.lit(Path(path).name)).to_arrow()):
        replaced = con.execute(
            "SELECT count(*) FROM fx_rates r JOIN _rates n ON r.day = n.day AND r.base = n.base AND r.quote = n.quote"
        ).fetchone()[0]
        con.execute(
            "INSERT OR REPLACE INTO fx_rates (day, base, quote, rate, source) SELECT day, base, quote,"
            f" CAST(rate_e8 AS DECIMAL(18, 0)) / {RATE_SCALE}, source FROM _rates"
        )
    return {"imported": frame.height - replaced, "replaced": replaced}


def load(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every stored rate, scaled."""
    return con.sql(f"SELECT day, base, quote, CAST(rate * {RATE_SCALE} AS BIGINT) AS rate_e8 FROM fx_rates").pl(
    ).cast(RATE_COLUMNS)


def directed(rates: pl.DataFrame, sources: list[str] | None = None) -> pl.DataFrame:
    """Each rate both ways as a fraction: converting `frm` to `to` multiplies by `num / den`.

    Pairs no file gives directly are crossed through a currency both share on that day, the way the ECB's own
    reference rates are used (USD to GBP through EUR), rounded to RATE_SCALE like a published rate; a direct
    rate always wins over a crossed one. `sources` limits the crossing to those `frm` currencies (the deposits'),
    which keeps years of ECB rates small.
    """
    forward = rates.select("day", frm="base", to="quote", num="rate_e8", den=pl.lit(RATE_SCALE, dtype=pl.Int64))
    backward = rates.select("day", frm="quote", to="base", num=pl.lit(RATE_SCALE, dtype=pl.Int64), den="rate_e8")
    direct = pl.concat([forward, backward]).unique(["day", "frm", "to"], keep="first")
    first = direct if sources is None else direct.filter(pl.col("frm").is_in(sources))
    legs = first.rename({"to": "via", "num": "n1", "den": "d1"}).join(
        direct.rename({"frm": "via", "num": "n2", "den": "d2"}), on=["day", "via"],
    ).filter(pl.col("frm") != pl.col("to"))
    num, den = pl.col("n1").cast(pl.Int128) * pl.col("n2"), pl.col("d1").cast(pl.Int128) * pl.col("d2")
    crossed = legs.select(
        "day", "frm", "to", num=((num * RATE_SCALE * 2 + den) // (den * 2)).cast(pl.Int64),
        den=pl.lit(RATE_SCALE, dtype=pl.Int64),
    ).filter(pl.col("num") > 0)
    return pl.concat([direct, crossed]).unique(["day", "frm", "to"], keep="first").sort("day")


def _minor_unit_cents(currency: pl.Expr) -> pl.Expr:
    """How many cents one minor unit of the currency is (100 for JPY, 1 for EUR): conversions round to it."""
    return currency.map_elements(lambda code: 10 ** max(0, 2 - money.exponent(code)), return_dtype=pl.Int64)


def convert(txns: pl.DataFrame, rates: pl.DataFrame, max_age_days: int) -> pl.DataFrame:
    """Per deposit and per currency it can be converted to: `t`, `currency` (the target), `conv_cents` (rounded
    half up to the target currency's minor unit) and `fx_rate_e8` (target units per deposit unit, scaled), at the
    latest rate published at most `max_age_days` before the booking day."""
    if rates.is_empty() or txns.is_empty():
        return pl.DataFrame(schema={"t": pl.UInt32, "currency": pl.String, "conv_cents": pl.Int64,
                                    "fx_rate_e8": pl.Int64})
    ways = directed(rates, txns["currency"].unique().to_list())
    targets = ways.select("frm", "to").unique()
    targets = targets.with_columns(unit=_minor_unit_cents(pl.col("to")))
    legs = txns.select("t", "booked_on", frm="currency", cents="cents").join(targets, on="frm").sort("booked_on")
    with warnings.catch_warnings():  # both sides are sorted by day; polars cannot check that within `by` groups
        warnings.simplefilter("ignore", UserWarning)
        found = legs.join_asof(
            ways.rename({"day": "rate_day"}), left_on="booked_on", right_on="rate_day", by=["frm", "to"],
            strategy="backward", tolerance=f"{max_age_days}d",
        ).drop_nulls("num")
    num, den = pl.col("num").cast(pl.Int128), pl.col("den").cast(pl.Int128) * pl.col("unit")
    return found.select(
        "t", currency="to",
        conv_cents=(((pl.col("cents").cast(pl.Int128) * num * 2 + den) // (den * 2)) * pl.col("unit")).cast(pl.Int64),
        fx_rate_e8=((num * RATE_SCALE * 2 + pl.col("den")) // (pl.col("den").cast(pl.Int128) * 2)).cast(pl.Int64),
    )
