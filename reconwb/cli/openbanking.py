"""`reconwb plaid` and `reconwb gocardless`: configure a provider, link a connection, reconnect it, and
`reconwb connections consent`: whose bank access ends soon."""

from __future__ import annotations

from typing import Any

import click

from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.cli.connections import connections_group
from reconwb.workspace import Workspace


def _text(outcome: dict[str, Any]) -> str:
    extra = outcome.get("link") or outcome.get("link_token") or outcome.get("message") or ""
    return f"{outcome.get('connection', '')} {outcome['status']} (health {outcome.get('health', '?')}) {extra}".rstrip()


def _provider_commands(group: click.Group, provider: str) -> None:
    """`link` and `reconnect`, the same for every provider: the open-banking layer does the provider's part."""

    steps = (("link", "Link connection NAME at the provider (offline: the simulator's Link step), then fetch.",
              "Only link; do not fetch afterwards.", "link"),
             ("reconnect", "Renew NAME's consent or repair its login (update mode, a new requisition), then fetch.",
              "Do not fetch after the reconnect.", "reconnect"))
    for command, doc, no_fetch_help, only in steps:

        def step(ws: Workspace, name: str, no_fetch: bool, as_json: bool, only: str = only) -> None:
            from reconwb.openbanking import linking

            outcome = getattr(linking, only)(ws, name) if no_fetch else linking.reconnect_step(ws, name)
            emit(outcome, as_json, _text)

        step.__doc__, step.__name__ = doc, f"{provider}_{command}"
        group.command(command)(click.argument("name")(click.option("--no-fetch", is_flag=True, help=no_fetch_help)(
            json_option(pass_ws(step)))))

    @group.command("banks")
    @json_option
    @pass_ws
    def refresh_banks(ws: Workspace, as_json: bool) -> None:
        """Read the provider's bank list (institutions) into the bank registry."""
        from reconwb.openbanking import adapter, store

        found = adapter.for_connector(provider)
        assert found is not None
        emit(store.run(lambda: found.refresh_banks(ws)), as_json, lambda r: f"{r['banks']} banks")

    refresh_banks.__name__ = f"{provider}_banks"


@cli.group("plaid")
def plaid_group() -> None:
    """Plaid: keys, linking items, update mode."""


@plaid_group.command("configure")
@click.option("--url", required=True, help="https://sandbox.plaid.com, https://production.plaid.com or a simulator.")
@click.option("--client-id", required=True)
@click.option("--secret-stdin", is_flag=True, help="Read the secret from the first line of stdin (else a prompt).")
@click.option("--webhook-url", help="Where Plaid sends webhooks (this server's /reconwb/webhooks/plaid).")
@click.option("--link-mode", type=click.Choice(["drop-in", "simulator"]), default="drop-in", show_default=True,
              help="Who completes Link: a person in the Plaid Link drop-in, or the simulator.")
@pass_ws
def plaid_configure(ws: Workspace, url: str, client_id: str, secret_stdin: bool, webhook_url: str | None,
                    link_mode: str) -> None:
    """Seal the Plaid keys (the secret is never an argument)."""
    from reconwb.openbanking import plaid

    secret = read_secret(secret_stdin, "Plaid secret")
    with ws.connect() as con:
        plaid.configure(con, ws.vault(), url=url, client_id=client_id, secret=secret, webhook_url=webhook_url,
                        link_mode=link_mode)
    click.echo("plaid configured")


@plaid_group.command("complete-link")
@click.argument("name")
@click.option("--public-token-stdin", is_flag=True, help="Read the public token Plaid Link's onSuccess gave from"
              " stdin (else a no-echo prompt): it buys the item's access token, so it is never an argument.")
@json_option
@pass_ws
def plaid_complete_link(ws: Workspace, name: str, public_token_stdin: bool, as_json: bool) -> None:
    """Exchange the public token from Plaid Link and seal the item's access token."""
    from reconwb.openbanking import plaid

    public_token = read_secret(public_token_stdin, "Plaid public token").strip()
    emit(plaid.complete_link(ws, name, public_token), as_json, _text)


@plaid_group.command("complete-update")
@click.argument("name")
@click.option("--account", "accounts", multiple=True, metavar="ACCOUNT_ID",
              help="An account the user kept selected in update mode (repeat); the others become inactive.")
@json_option
@pass_ws
def plaid_complete_update(ws: Workspace, name: str, accounts: tuple[str, ...], as_json: bool) -> None:
    """After update-mode Link in the drop-in: the item works again, the chosen accounts stay selected."""
    from reconwb.openbanking import plaid
    from reconwb.openbanking.store import run

    emit(run(lambda: plaid.update_completed_async(ws, name, list(accounts) if accounts else None)), as_json, _text)


@cli.group("gocardless")
def gocardless_group() -> None:
    """GoCardless Bank Account Data: secrets, agreements and requisitions."""


@gocardless_group.command("configure")
@click.option("--url", default="https://bankaccountdata.gocardless.com", show_default=True)
@click.option("--secret-id", required=True)
@click.option("--secret-key-stdin", is_flag=True, help="Read the secret key from the first line of stdin.")
@click.option("--link-mode", type=click.Choice(["browser", "simulator"]), default="browser", show_default=True)
@click.option("--redirect-url", default="http://127.0.0.1/reconwb/gocardless/done", show_default=True)
@pass_ws
def gocardless_configure(ws: Workspace, url: str, secret_id: str, secret_key_stdin: bool, link_mode: str,
                         redirect_url: str) -> None:
    """Seal the GoCardless secret id and key."""
    from reconwb.openbanking import gocardless

    key = read_secret(secret_key_stdin, "GoCardless secret key")
    with ws.connect() as con:
        gocardless.configure(con, ws.vault(), url=url, secret_id=secret_id, secret_key=key, link_mode=link_mode,
                             redirect_url=redirect_url)
    click.echo("gocardless configured")


@gocardless_group.command("complete-link")
@click.argument("name")
@click.option("--requisition", "requisition_id", required=True, help="The requisition the user consented to.")
@json_option
@pass_ws
def gocardless_complete_link(ws: Workspace, name: str, requisition_id: str, as_json: bool) -> None:
    """After the user came back from the bank: make the linked requisition NAME's link."""
    from reconwb.openbanking import gocardless

    emit(gocardless.complete_link(ws, name, requisition_id), as_json, _text)


_provider_commands(plaid_group, "plaid")
_provider_commands(gocardless_group, "gocardless")


@connections_group.command("consent")
@json_option
@pass_ws
def connections_consent(ws: Workspace, as_json: bool) -> None:
    """Connections whose bank access (consent) ends within the warning window; gives due notices."""
    from reconwb.openbanking import consent
    from reconwb.store.db import transaction

    with ws.connect() as con, transaction(con):
        consent.notify_expiring(con)
        found = [w.as_dict() for w in consent.warnings(con)]
    emit(found, as_json, lambda rows: table(rows, ["connection", "consent_expires_at", "days_left", "message"]))
