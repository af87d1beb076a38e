"""Exact money: every amount to its currency's ISO 4217 minor unit, never a float, never rounded.

Files state amounts as text. A value with more decimals than its currency has (10.005 EUR, 1.5 JPY) is not a
rounding question the reader may answer: the file is refused at that line. Trailing zeros are not decimals
(`-901.0000` USD is -901.00). The store keeps three decimals (DECIMAL(18,3)), the most any currency in use has
(KWD, BHD, JOD, OMR, TND, LYD, IQD); the rare units of account with four (CLF, UYW) are refused past three.

Exponents come from the `iso4217` package (the ISO 4217 list as its maintenance agency publishes it), not from
CLDR, whose display digits differ for HUF, IDR, COP, IQD and others.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

STORE_DECIMALS = 3
LIMIT = Decimal("1e15")  # DECIMAL(18,3) holds 15 integer digits
DEFAULT_EXPONENT = 2  # a code ISO 4217 does not list (a bank's own, or a new one): cents


class MoneyError(ValueError):
    """An amount that cannot be kept exactly; the message says why, the caller adds file and line."""


def __getattr__(name: str) -> Any:
    """`MONEY`, the polars type of every money column, made on first use: JSON and CLI text need this module
    without paying for polars."""
    if name == "MONEY":
        import polars as pl

        return pl.Decimal(18, STORE_DECIMALS)
    raise AttributeError(name)


@lru_cache(maxsize=512)
def exponent(currency: str | None) -> int:
    """Decimals the currency has (ISO 4217), capped at what the store keeps; 2 for an unknown code."""
    from iso4217 import Currency

    code = (currency or "").strip().upper()
    try:
        value = Currency(code).exponent
    except ValueError:
        return DEFAULT_EXPONENT
    return STORE_DECIMALS if value is None or value > STORE_DECIMALS else value  # metals: no minor unit


def parse(text: str) -> Decimal:
    """A plain decimal number (`-12.50`, `+3`, `.5`); no grouping, no exponent, no currency."""
    value = text.strip()
    if not value or any(c in value for c in "eE_ ,") or value.lower() in ("nan", "inf", "infinity"):
        raise MoneyError(f"{value[:40]!r} is not a number")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value[:40]!r} is not a number") from None
    if not number.is_finite():
        raise MoneyError(f"{value[:40]!r} is not a number")
    return number


def exact(value: Decimal, currency: str | None) -> Decimal:
    """`value` to its currency's minor unit; refused (MoneyError) when that would drop a non-zero digit."""
    places = exponent(currency)
    quantum = Decimal(1).scaleb(-places)
    if abs(value) >= LIMIT:
        raise MoneyError(f"{value} is out of range (at most 15 integer digits)")
    try:
        fitted = value.quantize(quantum)
    except InvalidOperation:
        raise MoneyError(f"{value} is out of range") from None
    if fitted != value:
        code = (currency or "").upper() or "an unknown currency"
        raise MoneyError(f"{value} has more decimals than {code} allows ({places}); it is not rounded")
    return fitted


def display(value: object) -> str:
    """Any value as text, a money Decimal from the store (DECIMAL(18,3)) shown as the store showed it before it
    kept a third decimal: 49.000 as 49.00, 1.235 as 1.235."""
    if isinstance(value, Decimal) and value.as_tuple().exponent == -STORE_DECIMALS and value.is_finite():
        return text(value)
    return str(value)


def text(value: Decimal) -> str:
    """Money as text: at least two decimals (10.00, as always shown), three only when the third is used."""
    two = value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else None
    return str(two if two is not None else value.quantize(Decimal("0.001")))


def text_expr(expr: pl.Expr) -> pl.Expr:
    """`text` for a polars money column: `10.00`, `-0.05`, `1.235` (what identity fingerprints are made of)."""
    import polars as pl

    money = expr.cast(pl.Decimal(18, STORE_DECIMALS))
    whole_cents = (money * 1000).cast(pl.Int64) % 10 == 0
    return pl.when(whole_cents).then(money.cast(pl.Decimal(18, 2)).cast(pl.String)).otherwise(money.cast(pl.String))


def text_sql(column: str) -> str:
    """`text` in DuckDB SQL, for exports written by COPY."""
    return (f"CASE WHEN {column} = round({column}, 2) THEN CAST(CAST({column} AS DECIMAL(18, 2)) AS VARCHAR)"
            f" ELSE CAST({column} AS VARCHAR) END")


def excess_expr(amount_text: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """True where plain-decimal text has a non-zero digit past its currency's exponent (bulk `exact`)."""
    return decimals_expr(amount_text) > places_expr(currency)


def decimals_expr(amount_text: pl.Expr) -> pl.Expr:
    """How many decimals plain-decimal text uses, trailing zeros not counted (`-901.0000` uses none): half of
    `excess_expr`, apart so that a reader can work it out once per distinct amount text."""
    fraction = amount_text.str.extract(r"\.(\d*)$", 1).fill_null("").str.strip_chars_end("0")
    return fraction.str.len_chars()


def places_expr(currency: pl.Expr) -> pl.Expr:
    """The decimals each currency code allows (`exponent`, 2 for an unknown code): the other half."""
    import polars as pl

    return currency.str.to_uppercase().replace_strict(_exponents(), default=DEFAULT_EXPONENT, return_dtype=pl.UInt32)


@lru_cache(maxsize=1)
def _exponents() -> dict[str, int]:
    from iso4217 import Currency

    return {c.code: exponent(c.code) for c in Currency}


def known_codes() -> frozenset[str]:
    """The ISO 4217 codes."""
    return frozenset(_exponents())
