"""Provider bank lists into the bank registry: one place that registers a provider's bank and its switches."""

from __future__ import annotations

from typing import Any

import duckdb

from reconwb import banks


def apply(con: duckdb.DuckDBPyConnection, connector_id: str, bank_id: str, name: str | None, *,
          country: str | None = None, active: dict[str, Any] | None = None,
          enabled: dict[str, Any] | None = None) -> list[str]:
    """Register one provider bank and mirror its availability; return the products whose usability changed."""
    known = banks.get(con, bank_id, missing_ok=True)
    if known is None or name:
        banks.register(con, bank_id, str(name or bank_id), connector_id,
                       country=country or (known.country if known else None), source="aggregator")
    active, enabled = active or {}, enabled or {}
    changed = []
    for product in banks.PRODUCTS:
        if product not in active and product not in enabled:
            continue
        if banks.set_availability(con, bank_id, product, active=_flag(active.get(product)),
                                  enabled=_flag(enabled.get(product))):
            changed.append(product)
    return changed


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def usable(con: duckdb.DuckDBPyConnection, connector_id: str) -> list[str]:
    """The provider's banks a new connection may use now."""
    return [b.bank_id for b in banks.list_banks(con, usable_for="data") if b.connector == connector_id]
