"""`reconwb connections`: one login at a bank, or one statement source."""

from __future__ import annotations

import click

from reconwb import accounts, connections, last_attempt
from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.errors import InvalidInput
from reconwb.workspace import Workspace

LIST_COLUMNS = ["name", "bank", "connector", "health", "reason", "last_success_at", "next_attempt_at"]


@cli.group("connections")
def connections_group() -> None:
    """Bank connections."""


@connections_group.command("add")
@click.argument("name")
@click.option("--bank", "bank_id", required=True, help="Bank id (see `reconwb banks list`).")
@click.option("--username")
@click.option("--portal-url", help="Base URL of the bank portal (e.g. the simulator).")
@click.option("--login-mode", type=click.Choice(connections.LOGIN_MODES), default="simple", show_default=True)
@click.option("--session", "session_mode", type=click.Choice(connections.SESSION_MODES), default="one-shot",
              show_default=True)
@click.option("--external-id", help="The aggregator's entity id, for aggregator connections.")
@json_option
@pass_ws
def connections_add(ws: Workspace, name: str, bank_id: str, username: str | None, portal_url: str | None,
                    login_mode: str, session_mode: str, external_id: str | None, as_json: bool) -> None:
    """Add a connection NAME at a bank."""
    with ws.connect() as con:
        conn = connections.add(con, name, bank_id, username=username, portal_url=portal_url,
                               login_mode=login_mode, session_mode=session_mode, external_id=external_id)
        shares = accounts.same_login(con, conn.connection_id)
        notice = accounts.same_login_notice(con, conn.connection_id)
    emit({**_public(conn), "shares_accounts_with": shares}, as_json,
         lambda c: f"added {c['name']} ({c['bank']}): {c['health']}")
    if notice:
        click.echo(f"note: {notice}", err=True)


@connections_group.command("set")
@click.argument("name")
@click.option("--login-mode", type=click.Choice(connections.LOGIN_MODES),
              help="assisted: a person answers the bank's one-time code when it asks.")
@click.option("--session", "session_mode", type=click.Choice(connections.SESSION_MODES))
@json_option
@pass_ws
def connections_set(ws: Workspace, name: str, login_mode: str | None, session_mode: str | None,
                    as_json: bool) -> None:
    """Change how connection NAME logs in or keeps its session."""
    if login_mode is None and session_mode is None:
        raise InvalidInput("nothing to change: give --login-mode and/or --session")
    with ws.connect() as con:
        conn = connections.set_modes(con, name, login_mode=login_mode, session_mode=session_mode)
    emit(_public(conn), as_json, lambda c: f"{c['name']}: {c['login_mode']} login, {c['session_mode']} session")


@connections_group.command("list")
@json_option
@pass_ws
def connections_list(ws: Workspace, as_json: bool) -> None:
    """Every connection with its health, its last attempt and its next one (`retrying` when the last failed)."""
    with ws.connect() as con:
        conns = connections.list_connections(con)
        shown = last_attempt.displays(con, conns)
    rows = [{**_public(c), **shown[c.name].fields()} for c in conns]
    # the text shows what a person must know: `retrying` (and why) rather than a plain `ok` after a failure
    emit(rows, as_json, lambda r: table([{**x, "health": x["state"], "reason": x["state_reason"]} for x in r],
                                        LIST_COLUMNS))


@connections_group.command("remove")
@click.argument("name")
@pass_ws
def connections_remove(ws: Workspace, name: str) -> None:
    """Retire a connection (obsolete): secrets deleted, data kept."""
    with ws.connect() as con:
        connections.remove(con, name)


@connections_group.command("credentials")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Ask the bank at once (one fetch with the new password) and say what it answered.")
@json_option
@pass_ws
def connections_credentials(ws: Workspace, name: str, password_stdin: bool, check: bool, as_json: bool) -> None:
    """Store the password of NAME, encrypted, and ask the bank whether it takes it.

    Without --password-stdin, prompts without echo. Exits 0 when the bank accepted it (or with --no-check),
    1 when it rejected it, 3 when it could not be asked now (the password stays saved).
    """
    from reconwb import credentials

    password = read_secret(password_stdin, f"Password for {name}")
    verdict = credentials.update_credentials(ws, name, {"password": password}, check_with_bank=check)
    del password
    emit(verdict.as_dict(), as_json, lambda v: f"{name}: {v['message']} (health: {v['health']})")
    if verdict.exit_code:
        raise click.exceptions.Exit(verdict.exit_code)


def _public(conn: connections.Connection) -> dict[str, object]:
    data = conn.as_dict()
    data["bank"] = data.pop("bank_id")
    return {"name": data.pop("name"), "bank": data.pop("bank"), **data}
