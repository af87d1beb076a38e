"""Bank accounts: found by fetching or in statement files, selected (or not) by the user, one per identity.

One bank account is one account whatever reaches it: its identity is its IBAN, else the bank and the account
number, else the stable id the source gives it. The first source that shows an identity owns the account row;
a second connection or a statement file that shows the same identity is linked to that row (`account_links`),
so its lines land there and deduplicate against what is stored (bank id, else fingerprint) instead of
doubling the account. Statement files without an IBAN carry no bank, so their accounts stay their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Account:
    account_id: int
    connection_id: int
    external_ref: str
    iban: str | None
    name: str | None
    currency: str | None
    selected: bool
    active: bool


@dataclass(frozen=True)
class Resolved:
    """Which account row a source's account is, and whether another connection owns it (a link)."""

    account_id: int
    linked_to: str | None = None  # the owning connection's name, when this source was linked to its account
    identity: str = ""

    def notice(self, external_ref: str) -> str | None:
        if self.linked_to is None:
            return None
        return (f"account {external_ref} is already known through connection {self.linked_to!r}: linked to it,"
                " its transactions are not counted twice")


_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normal_iban(text: str | None) -> str | None:
    """The IBAN in `text` (compact, upper case) when it has an IBAN's shape and ISO 7064 check digits, else None.

    The country's own length is not insisted on: a bank that shows an account number with valid check digits
    shows an IBAN, whatever national format checker says, and both sides of a comparison see the same text.
    """
    if not text:
        return None
    from stdnum import iban as iban_numbers  # here: python-stdnum costs light commands ~20 ms at start
    from stdnum.iso7064 import mod_97_10

    compact = iban_numbers.compact(text)
    if not _IBAN_SHAPE.match(compact):
        return None
    return compact if mod_97_10.is_valid(compact[4:] + compact[:4]) else None


def identity(con: duckdb.DuckDBPyConnection, connection_id: int, external_ref: str, iban: str | None) -> str:
    """`iban:<IBAN>`, else `acct:<bank>:<number>` (portals), `ref:<connector>:<id>` (providers), or
    `ref:<connection>:<ref>` (statement files, which name no bank)."""
    found = normal_iban(iban) or normal_iban(external_ref)
    if found:
        return f"iban:{found}"
    bank_id, connector = con.execute(
        "SELECT bank_id, connector FROM connections WHERE connection_id = ?", [connection_id]).fetchone()
    if connector == "statement":
        return f"ref:{connection_id}:{external_ref}"
    if connector == "aggregator":
        return f"ref:{connector}:{external_ref}"
    return f"acct:{bank_id}:{external_ref.replace(' ', '')}"


def resolve(
    con: duckdb.DuckDBPyConnection,
    connection_id: int,
    external_ref: str,
    *,
    iban: str | None = None,
    name: str | None = None,
    currency: str | None = None,
) -> Resolved:
    """The account a connection's `external_ref` is: its own, another connection's with the same identity
    (linked, said so), or a new one; details refreshed on the row."""
    link = con.execute(
        "SELECT l.account_id, c.name FROM account_links l JOIN accounts a USING (account_id)"
        " JOIN connections c ON c.connection_id = a.connection_id WHERE l.connection_id = ? AND l.external_ref = ?",
        [connection_id, external_ref],
    ).fetchone()
    if link is not None:
        _refresh(con, link[0], iban, name, currency)
        return Resolved(int(link[0]), _other(con, connection_id, link[1]))
    key = identity(con, connection_id, external_ref, iban)
    own = con.execute("SELECT account_id FROM accounts WHERE connection_id = ? AND external_ref = ?",
                      [connection_id, external_ref]).fetchone()
    if own is None:
        owner = con.execute(
            "SELECT i.account_id, c.name FROM account_identities i JOIN accounts a USING (account_id)"
            " JOIN connections c ON c.connection_id = a.connection_id"
            " WHERE i.identity = ? AND c.removed_at IS NULL",
            [key],
        ).fetchone()
        if owner is not None:  # another name for an account we hold (this connection's or another's)
            con.execute("INSERT INTO account_links (connection_id, external_ref, account_id) VALUES (?, ?, ?)",
                        [connection_id, external_ref, owner[0]])
            _refresh(con, owner[0], iban, name, currency)
            return Resolved(int(owner[0]), _other(con, connection_id, owner[1]), key)
    row = con.execute(
        "INSERT INTO accounts (connection_id, external_ref, iban, name, currency) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (connection_id, external_ref) DO UPDATE SET iban = coalesce(excluded.iban, accounts.iban),"
        " name = coalesce(excluded.name, accounts.name), currency = coalesce(excluded.currency, accounts.currency) "
        "RETURNING account_id",
        [connection_id, external_ref, normal_iban(iban) or iban, name, currency],
    ).fetchone()
    con.execute("INSERT INTO account_identities (identity, account_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [key, row[0]])
    return Resolved(int(row[0]), None, key)


def ensure(con: duckdb.DuckDBPyConnection, connection_id: int, external_ref: str, **details: str | None) -> int:
    """The id of the account `external_ref` of a connection reaches (see `resolve`: `iban`, `name`, `currency`),
    created on first sight."""
    return resolve(con, connection_id, external_ref, **details).account_id


def _other(con: duckdb.DuckDBPyConnection, connection_id: int, owner: str) -> str | None:
    """The owner's name when it is another connection (what a link notice names), else None."""
    mine = con.execute("SELECT name FROM connections WHERE connection_id = ?", [connection_id]).fetchone()
    return None if mine and mine[0] == owner else owner


def _refresh(con: duckdb.DuckDBPyConnection, account_id: int, iban: str | None, name: str | None,
             currency: str | None) -> None:
    con.execute(
        "UPDATE accounts SET iban = coalesce(iban, ?), name = coalesce(name, ?), currency = coalesce(currency, ?)"
        " WHERE account_id = ?",
        [normal_iban(iban) or iban, name, currency, account_id],
    )


def linked(con: duckdb.DuckDBPyConnection, connection_id: int) -> list[tuple[str, int, str]]:
    """The accounts a connection reaches that another connection owns: (external_ref, account_id, owner)."""
    return [(r[0], int(r[1]), r[2]) for r in con.execute(
        "SELECT l.external_ref, l.account_id, c.name FROM account_links l JOIN accounts a USING (account_id)"
        " JOIN connections c ON c.connection_id = a.connection_id WHERE l.connection_id = ? ORDER BY 1",
        [connection_id],
    ).fetchall()]


def list_accounts(con: duckdb.DuckDBPyConnection, connection_id: int) -> list[Account]:
    rows = con.execute(
        "SELECT account_id, connection_id, external_ref, iban, name, currency, selected, active FROM accounts"
        " WHERE connection_id = ? ORDER BY external_ref",
        [connection_id],
    ).fetchall()
    return [Account(*r) for r in rows]


def set_selection(con: duckdb.DuckDBPyConnection, connection_id: int, keep: set[str]) -> tuple[list[str], list[str]]:
    """Keep `keep` selected and active; every other account of the connection becomes unselected and inactive.

    Inactive accounts stay with their transactions and matches (kept, not deleted); selecting one again
    reactivates it. Returns (selected, deselected) external refs.
    """
    refs = [a.external_ref for a in list_accounts(con, connection_id)]
    selected = [r for r in refs if r in keep]
    deselected = [r for r in refs if r not in keep]
    con.execute(
        "UPDATE accounts SET selected = list_contains(?, external_ref), active = list_contains(?, external_ref)"
        " WHERE connection_id = ?",
        [selected, selected, connection_id],
    )
    return selected, deselected


def same_login(con: duckdb.DuckDBPyConnection, connection_id: int) -> list[str]:
    """Other live connections that log in to the same bank as the same user: they reach the same accounts,
    which the new one will share (linked on its first fetch) rather than count twice."""
    return [r[0] for r in con.execute(
        "SELECT o.name FROM connections c JOIN connections o ON o.bank_id = c.bank_id"
        " AND lower(o.username) = lower(c.username) AND o.connection_id <> c.connection_id"
        " WHERE c.connection_id = ? AND o.removed_at IS NULL ORDER BY o.name",
        [connection_id],
    ).fetchall()]


def same_login_notice(con: duckdb.DuckDBPyConnection, connection_id: int) -> str | None:
    """What to tell the person who just added a connection that doubles another's login, else None."""
    others = same_login(con, connection_id)
    if not others:
        return None
    return (f"connection {', '.join(map(repr, others))} already logs in to this bank as this user: its accounts"
            " are linked to the existing ones, not counted twice")
