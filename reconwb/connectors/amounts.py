"""Amounts from provider APIs into exact money: a JSON number becomes the Decimal it was written as.

The store keeps two decimal places; an amount with more (a provider sending 10.005 EUR) is a provider answer
reconwb does not understand, so it is refused as SiteChanged, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from reconwb.connectors.errors import SiteChanged

CENT = Decimal("0.01")


def exact(value: Any, where: str) -> Decimal:
    """`value` (a Decimal, a numeric string, or a float as the shortest text that reads back the same)."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SiteChanged(f"{where}: {value!r} is not an amount") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise SiteChanged(f"{where}: the amount {value!r} has more than two decimal places")
    return amount.quantize(CENT)
