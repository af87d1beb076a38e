"""`reconwb sim`: the simulators, in the foreground, for the demo and for trying connectors by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import click

from reconwb.cli.base import cli, emit, json_option, pass_ws
from reconwb.workspace import Workspace


@cli.group("sim")
def sim_group() -> None:
    """Simulated bank portal, aggregator, Plaid and GoCardless on 127.0.0.1."""


@sim_group.command("bank")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--print-scenario", is_flag=True, help="Print the built-in scenario as JSON and exit.")
def sim_bank(port: int, print_scenario: bool) -> None:
    """Serve the simulated bank portal (three layouts) until interrupted."""
    from reconwb.sim import bank

    if print_scenario:
        emit(bank.BankPortal().scenario(), True)
        return
    handle = bank.make_server(port)
    click.echo(f"simulated bank portal on {handle.url} (banks: "
               + ", ".join(f"{handle.url}/{b['path']}" for b in handle.portal.scenario()["banks"]) + ")", err=True)
    try:
        handle.serve_forever()
    except KeyboardInterrupt:
        pass


@sim_group.command("aggregator")
@click.option("--port", type=click.IntRange(0, 65535), default=8766, show_default=True)
@click.option("--webhook-url", help="Where the simulator POSTs its signed webhooks.")
@click.option("--print-scenario", is_flag=True, help="Print the built-in banks and logins as JSON and exit.")
def sim_aggregator(port: int, webhook_url: str | None, print_scenario: bool) -> None:
    """Serve the simulated open-banking aggregator until interrupted."""
    from reconwb.sim import aggregator

    _serve_provider("aggregator", lambda: aggregator.start_aggregator(port, webhook_url), aggregator.scenario,
                    print_scenario, "app token and webhook secret")

def _serve_provider(name: str, start: Callable[[], Any], scenario: Callable[[], dict[str, Any]],
                    print_scenario: bool, secrets: str = "keys") -> None:
    """Print the scenario, or serve the simulator in the foreground until interrupted."""
    if print_scenario:
        emit(scenario(), True)
        return
    handle = start()
    click.echo(f"simulated {name} on {handle.url} ({secrets}: --print-scenario)", err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


@sim_group.command("plaid")
@click.option("--port", type=click.IntRange(0, 65535), default=8767, show_default=True)
@click.option("--webhook-url", help="Where the simulator POSTs its Plaid-Verification-signed webhooks.")
@click.option("--print-scenario", is_flag=True, help="Print the keys and items (one per behaviour) as JSON and exit.")
def sim_plaid(port: int, webhook_url: str | None, print_scenario: bool) -> None:
    """Serve a simulated Plaid API until interrupted; plaid-python can point at it."""
    from reconwb.sim import plaid

    _serve_provider("Plaid", lambda: plaid.start_plaid(port, webhook_url), plaid.scenario, print_scenario)


@sim_group.command("gocardless")
@click.option("--port", type=click.IntRange(0, 65535), default=8768, show_default=True)
@click.option("--print-scenario", is_flag=True, help="Print the secrets and institutions as JSON and exit.")
def sim_gocardless(port: int, print_scenario: bool) -> None:
    """Serve a simulated GoCardless Bank Account Data API until interrupted."""
    from reconwb.sim import gocardless

    _serve_provider("GoCardless Bank Account Data", lambda: gocardless.start_gocardless(port),
                    gocardless.scenario, print_scenario)


@sim_group.command("register")
@json_option
@pass_ws
def sim_register(ws: Workspace, as_json: bool) -> None:
    """Add the simulated banks to this workspace, on purpose (trying connectors by hand; not for real books)."""
    from reconwb.connectors import registry

    with ws.connect() as con:
        before = {r[0] for r in con.execute("SELECT bank_id FROM banks").fetchall()}
        registry.register_banks(con, include_simulated=True)
        added = sorted({r[0] for r in con.execute("SELECT bank_id FROM banks").fetchall()} - before)
    emit({"added": added}, as_json,
         lambda r: f"simulated banks added: {', '.join(r['added']) or 'none (they were there already)'}")
