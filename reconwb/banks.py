"""The bank registry and each bank's availability per product.

As in the aggregator docs, availability has two switches per product (`data`, `payments`): `active` is the
platform's (the aggregator or reconwb turned the bank off), `enabled` is the client's (this workspace turned it
off). A bank is usable for a product only when both are on. Unusable banks are not offered for new
connections, and existing connections follow the switch through `reconwb.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from reconwb import events
from reconwb.errors import InvalidInput, NotFound

PRODUCTS = ("data", "payments")
STATEMENT_BANK = "files"  # the pseudo-bank of statement-file connections


@dataclass(frozen=True)
class Availability:
    active: bool = True
    enabled: bool = True

    @property
    def usable(self) -> bool:
        return self.active and self.enabled


@dataclass(frozen=True)
class Bank:
    bank_id: str
    name: str
    connector: str
    country: str | None = None
    source: str = "builtin"
    availability: dict[str, Availability] = field(default_factory=dict)

    def usable_for(self, product: str = "data") -> bool:
        return self.availability.get(product, Availability()).usable

    def as_dict(self) -> dict[str, object]:
        return {
            "bank_id": self.bank_id,
            "name": self.name,
            "connector": self.connector,
            "country": self.country,
            "source": self.source,
            "availability": {
                p: {"active": a.active, "enabled": a.enabled, "usable": a.usable}
                for p, a in self.availability.items()
            },
        }


def register(
    con: duckdb.DuckDBPyConnection,
    bank_id: str,
    name: str,
    connector: str,
    *,
    country: str | None = None,
    source: str = "builtin",
) -> None:
    """Add a bank or update its description; availability rows start usable and are never reset here."""
    con.execute(
        "INSERT INTO banks (bank_id, name, connector, country, source) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (bank_id) DO UPDATE SET name = excluded.name, connector = excluded.connector,"
        " country = excluded.country, source = excluded.source, updated_at = now()",
        [bank_id, name, connector, country, source],
    )
    for product in PRODUCTS:
        con.execute(
            "INSERT INTO bank_availability (bank_id, product) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [bank_id, product],
        )


def ensure_statement_bank(con: duckdb.DuckDBPyConnection) -> None:
    if get(con, STATEMENT_BANK, missing_ok=True) is None:
        register(con, STATEMENT_BANK, "Statement files", "statement", source="builtin")


def get(con: duckdb.DuckDBPyConnection, bank_id: str, *, missing_ok: bool = False) -> Bank | None:
    found = list_banks(con, bank_id=bank_id)
    if not found:
        if missing_ok:
            return None
        raise NotFound(f"no bank {bank_id!r}; `reconwb banks list` shows the known banks")
    return found[0]


def list_banks(
    con: duckdb.DuckDBPyConnection, *, usable_for: str | None = None, bank_id: str | None = None
) -> list[Bank]:
    """Banks in id order; with `usable_for`, only those that may take new connections for that product."""
    rows = con.execute(
        "SELECT b.bank_id, b.name, b.connector, b.country, b.source,"
        " list({'product': a.product, 'active': a.active, 'enabled': a.enabled} ORDER BY a.product)"
        " FILTER (WHERE a.product IS NOT NULL) "
        "FROM banks b LEFT JOIN bank_availability a USING (bank_id) "
        "WHERE ? IS NULL OR b.bank_id = ? "
        "GROUP BY ALL ORDER BY b.bank_id",
        [bank_id, bank_id],
    ).fetchall()
    banks = [
        Bank(
            bank_id=r[0],
            name=r[1],
            connector=r[2],
            country=r[3],
            source=r[4],
            availability={a["product"]: Availability(a["active"], a["enabled"]) for a in (r[5] or [])},
        )
        for r in rows
    ]
    if usable_for is not None:
        banks = [b for b in banks if b.usable_for(usable_for)]
    return banks


def set_availability(
    con: duckdb.DuckDBPyConnection,
    bank_id: str,
    product: str = "data",
    *,
    active: bool | None = None,
    enabled: bool | None = None,
) -> bool:
    """Flip a bank's switches; return whether its usability changed. Connections follow in the same transaction."""
    if product not in PRODUCTS:
        raise InvalidInput(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    bank = get(con, bank_id)
    assert bank is not None
    before = bank.availability.get(product, Availability())
    after = Availability(
        before.active if active is None else active, before.enabled if enabled is None else enabled
    )
    if after == before:
        return False
    con.execute(
        "UPDATE bank_availability SET active = ?, enabled = ?, updated_at = now() "
        "WHERE bank_id = ? AND product = ?",
        [after.active, after.enabled, bank_id, product],
    )
    events.emit(
        con,
        "bank.availability_changed",
        {"bank_id": bank_id, "product": product, "active": after.active, "enabled": after.enabled},
        subject=f"bank:{bank_id}",
    )
    if product == "data" and before.usable != after.usable:
        from reconwb import lifecycle

        lifecycle.bank_availability_changed(con, bank_id, usable=after.usable)
    return before.usable != after.usable
