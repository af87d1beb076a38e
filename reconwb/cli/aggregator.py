"""`reconwb aggregator`, `reconwb users`, `reconwb notifications`, `reconwb banks refresh`,
`reconwb connections update` and `reconwb connections warnings`: the aggregator and the connection lifecycle."""

from __future__ import annotations

import click

from reconwb import connections, lifecycle, notify
from reconwb import credentials as credentials_flow
from reconwb.cli.banks import banks_group
from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.cli.connections import connections_group
from reconwb.openbanking import lean as aggregator
from reconwb.workspace import Workspace


@cli.group("aggregator")
def aggregator_group() -> None:
    """The open-banking aggregator: configuration, linking, reconnecting, parked results."""


@aggregator_group.command("configure")
@click.option("--url", help="Base URL of the aggregator API (e.g. the simulator).")
@click.option("--app-token-stdin", is_flag=True, help="Read the app token from the first line of stdin.")
@click.option("--webhook-secret-stdin", is_flag=True,
              help="Read the aggregator's webhook signing secret (whsec_...) from the next line of stdin.")
@pass_ws
def aggregator_configure(ws: Workspace, url: str | None, app_token_stdin: bool, webhook_secret_stdin: bool) -> None:
    """Set the aggregator URL, its app token and its webhook secret (both sealed in the vault)."""
    token = read_secret(True, "") if app_token_stdin else None
    secret = read_secret(True, "") if webhook_secret_stdin else None
    vault = ws.vault()
    with ws.connect() as con:
        aggregator.configure(con, vault, url=url, app_token=token, webhook_secret=secret)
    click.echo("aggregator configured")


def _outcome_text(o: dict[str, object]) -> str:
    extra = f": {o['message']}" if o.get("message") else ""
    return f"{o.get('connection', '')} {o['status']} (health {o.get('health', '?')}){extra}"


@aggregator_group.command("link")
@click.argument("name")
@json_option
@pass_ws
def aggregator_link(ws: Workspace, name: str, as_json: bool) -> None:
    """Create the aggregator entity of connection NAME with its stored bank credentials, then fetch once."""
    outcome = credentials_flow.next_step(ws, name, fetch=True)
    emit(outcome, as_json, _outcome_text)


@aggregator_group.command("reconnect")
@click.argument("name")
@click.option("--otp", help="The code the bank sent, when the reconnect asked for one.")
@click.option("--no-fetch", is_flag=True, help="Do not fetch after a successful reconnect.")
@json_option
@pass_ws
def aggregator_reconnect(ws: Workspace, name: str, otp: str | None, no_fetch: bool, as_json: bool) -> None:
    """Run the reconnect step of NAME with its stored (updated) password."""
    outcome = credentials_flow.next_step(ws, name, otp=otp, fetch=not no_fetch)
    emit(outcome, as_json, _outcome_text)


@aggregator_group.command("poll")
@click.option("--min-age", type=float, default=60.0, show_default=True,
              help="Only results parked at least this many seconds (a webhook may still come).")
@json_option
@pass_ws
def aggregator_poll(ws: Workspace, min_age: float, as_json: bool) -> None:
    """Complete parked (PENDING) results no results.ready webhook came for."""
    import datetime as dt

    outcomes = aggregator.poll_pending(ws, older_than=dt.timedelta(seconds=min_age))
    emit(outcomes, as_json, lambda r: table(r, ["results_id", "status", "health"]))


@banks_group.command("refresh")
@json_option
@pass_ws
def banks_refresh(ws: Workspace, as_json: bool) -> None:
    """Poll the aggregator's /banks/v1: register its banks and mirror their availability."""
    result = aggregator.refresh_banks(ws)
    emit(result, as_json, lambda r: f"{r['banks']} banks; changed: {r['changed'] or 'nothing'}")


@connections_group.command("update")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="New password from the first line of stdin.")
@click.option("--password-prompt", is_flag=True, help="Prompt for a new password (no echo).")
@click.option("--select", "select", multiple=True, metavar="ACCOUNT",
              help="An account that stays selected (repeat); the others become inactive. Default: all.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-fetch", is_flag=True, help="Do not reconnect and fetch after the update.")
@json_option
@pass_ws
def connections_update(ws: Workspace, name: str, password_stdin: bool, password_prompt: bool, select: tuple[str],
                       yes: bool, no_fetch: bool, as_json: bool) -> None:
    """Update NAME: new credentials and the accounts that stay selected, in one transaction."""
    credentials = None
    if password_stdin or password_prompt:
        credentials = {"password": read_secret(password_stdin, f"New password for {name}")}

    def confirm(plan: connections.UpdatePlan) -> bool:
        if yes:
            return True
        lines = [
            f"update {plan.connection}:",
            f"  new credentials: {'yes' if plan.credentials_changed else 'no'}",
            f"  selected: {', '.join(plan.selected) or '-'}",
            f"  made inactive: {', '.join(plan.deselected) or '-'}",
        ]
        click.echo("\n".join(lines), err=True)
        return click.confirm("commit?", default=False, err=True)

    verdict = credentials_flow.update_credentials(
        ws, name, credentials, selected=list(select) if select else None, confirm=confirm,
        check_with_bank=not no_fetch)
    result: dict[str, object] = {"update": verdict.update, "health": verdict.health, "status": verdict.status,
                                 "message": verdict.message}
    if verdict.step is not None:
        result["reconnect"] = verdict.step
    emit(result, as_json, lambda r: f"updated {name}: {r['message']} (health: {r['health']})")
    if verdict.exit_code:
        raise click.exceptions.Exit(verdict.exit_code)


@connections_group.command("warnings")
@json_option
@pass_ws
def connections_warnings(ws: Workspace, as_json: bool) -> None:
    """Connections whose password is older than `credential_max_age_days` (the banner list)."""
    with ws.connect() as con:
        rows = [w.as_dict() for w in lifecycle.credential_warnings(con)]
    emit(rows, as_json, lambda r: table(r, ["connection", "age_days", "message"]))


@cli.group("users")
def users_group() -> None:
    """People who are notified, and their permissions."""


@users_group.command("add")
@click.argument("name")
@click.option("--email")
@click.option("--webhook-url")
@click.option("--permission", "permissions", multiple=True, type=click.Choice(notify.PERMISSIONS),
              help="Repeat for several (reconciliation: hears about reconnects and failures).")
@json_option
@pass_ws
def users_add(ws: Workspace, name: str, email: str | None, webhook_url: str | None, permissions: tuple[str],
              as_json: bool) -> None:
    """Add a person who may be notified."""
    with ws.connect() as con:
        user = notify.add_user(con, name, email=email, webhook_url=webhook_url, permissions=permissions)
    emit(user.as_dict(), as_json, lambda u: f"added {u['name']} ({', '.join(u['permissions']) or 'no permissions'})")


@users_group.command("list")
@json_option
@pass_ws
def users_list(ws: Workspace, as_json: bool) -> None:
    """Every user with their channels and permissions."""
    with ws.connect() as con:
        rows = [u.as_dict() for u in notify.list_users(con)]
    emit(rows, as_json, lambda r: table(r, ["name", "email", "webhook_url", "permissions"]))


@cli.group("notifications")
def notifications_group() -> None:
    """Notifications to people (one per incident and user)."""


@notifications_group.command("deliver")
@json_option
@pass_ws
def notifications_deliver(ws: Workspace, as_json: bool) -> None:
    """Send every queued notification now."""
    report = notify.deliver(ws)
    emit(report.as_dict(), as_json, lambda r: f"sent {r['sent']}, failed {r['failed']}")


@notifications_group.command("list")
@json_option
@pass_ws
def notifications_list(ws: Workspace, as_json: bool) -> None:
    """Every notification with its status."""
    with ws.connect() as con:
        rows = notify.list_notifications(con)
    emit(rows, as_json, lambda r: table(r, ["notification_id", "user", "channel", "status", "subject"]))
