"""`reconwb banks`: the registry and availability switches."""

from __future__ import annotations

import click

from reconwb import banks
from reconwb.cli.base import cli, emit, json_option, pass_ws, table
from reconwb.workspace import Workspace


@cli.group("banks")
def banks_group() -> None:
    """Banks and their availability."""


@banks_group.command("list")
@click.option("--available", is_flag=True, help="Only banks that can take new connections.")
@json_option
@pass_ws
def banks_list(ws: Workspace, available: bool, as_json: bool) -> None:
    """Every known bank with its availability per product."""
    with ws.connect() as con:
        found = [b.as_dict() for b in banks.list_banks(con, usable_for="data" if available else None)]
    rows = [
        {**b, **{p: ("on" if a["usable"] else _why_off(a)) for p, a in b["availability"].items()}}  # type: ignore[union-attr]
        for b in found
    ]
    emit(found, as_json, lambda _: table(rows, ["bank_id", "name", "connector", "data", "payments"]))


def _why_off(a: dict[str, bool]) -> str:
    return "off (" + ", ".join(n for n, v in (("platform", a["active"]), ("client", a["enabled"])) if not v) + ")"


@banks_group.command("add")
@click.argument("bank_id")
@click.option("--name", required=True)
@click.option("--connector", required=True, help="The connector that reads this bank.")
@click.option("--country")
@pass_ws
def banks_add(ws: Workspace, bank_id: str, name: str, connector: str, country: str | None) -> None:
    """Register a bank by hand."""
    with ws.connect() as con:
        banks.register(con, bank_id, name, connector, country=country, source="manual")


def _switch(ws: Workspace, bank_id: str, product: str, scope: str, on: bool) -> None:
    with ws.connect() as con:
        if scope == "platform":
            banks.set_availability(con, bank_id, product, active=on)
        else:
            banks.set_availability(con, bank_id, product, enabled=on)


_product = click.option("--product", type=click.Choice(banks.PRODUCTS), default="data", show_default=True)
_scope = click.option(
    "--scope",
    type=click.Choice(["client", "platform"]),
    default="client",
    show_default=True,
    help="client: this workspace's switch (enabled); platform: the provider's (active).",
)


@banks_group.command("disable")
@click.argument("bank_id")
@_product
@_scope
@pass_ws
def banks_disable(ws: Workspace, bank_id: str, product: str, scope: str) -> None:
    """Turn a bank off: hidden from new connections; its connections become bank_disabled."""
    _switch(ws, bank_id, product, scope, False)


@banks_group.command("enable")
@click.argument("bank_id")
@_product
@_scope
@pass_ws
def banks_enable(ws: Workspace, bank_id: str, product: str, scope: str) -> None:
    """Turn a bank back on; its connections return to the state they had."""
    _switch(ws, bank_id, product, scope, True)
