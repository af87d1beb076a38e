"""`reconwb webhooks`: endpoints, delivery, replay, the delivery log, and inbound secrets."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from tqdm import tqdm

from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.errors import InvalidInput
from reconwb.webhooks import endpoints, inbound, outbox
from reconwb.webhooks.delivery import Worker, run_sync, send_test
from reconwb.workspace import Workspace

LIST_COLUMNS = ["endpoint_id", "url", "auth_scheme", "event_types", "enabled", "pending", "delivered", "dead"]
LOG_COLUMNS = ["attempted_at", "message_id", "endpoint_id", "attempt", "outcome", "http_status", "latency_ms",
               "next_attempt_at", "error"]
MESSAGE_COLUMNS = ["message_id", "endpoint_id", "event_type", "status", "attempts", "next_attempt_at", "last_error"]
INBOUND_COLUMNS = ["source", "webhook_id", "event_type", "status", "attempts", "received_at", "error"]


@cli.group("webhooks")
def webhooks_group() -> None:
    """Outbound webhook endpoints and deliveries; inbound webhook secrets."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--auth", type=click.Choice(endpoints.AUTH_SCHEMES), required=True,
              help="How we authenticate to the endpoint: a Bearer token or an Api-Key header.")
@click.option("--token-stdin", is_flag=True, help="Read the endpoint's token from the first line of stdin.")
@click.option("--events", "event_types", metavar="TYPE,TYPE", help="Only these event types (default: all).")
@json_option
@pass_ws
def webhooks_add(ws: Workspace, url: str, auth: str, token_stdin: bool, event_types: str | None,
                 as_json: bool) -> None:
    """Add an endpoint at URL. Prints its signing secret: the only time it is shown."""
    types = endpoints.parse_event_types(event_types)
    endpoints.check_url(url)
    token = None if auth == "none" else read_secret(token_stdin, f"Token for {url}")
    vault = ws.vault()
    with ws.connect() as con:
        endpoint, secret = endpoints.add(con, vault, url, auth=auth, token=token, event_types=types)
    emit(
        {"id": endpoint.endpoint_id, "secret": secret, "url": endpoint.url, "event_types": endpoint.event_types},
        as_json,
        lambda d: f"added endpoint {d['id']} -> {d['url']}\nsigning secret (shown once, keep it): {d['secret']}",
    )


@webhooks_group.command("list")
@json_option
@pass_ws
def webhooks_list(ws: Workspace, as_json: bool) -> None:
    """Every endpoint with its message counts."""
    with ws.connect() as con:
        rows = endpoints.summary(con)
    emit(rows, as_json, lambda r: table(r, LIST_COLUMNS))


@webhooks_group.command("remove")
@click.argument("endpoint_id")
@pass_ws
def webhooks_remove(ws: Workspace, endpoint_id: str) -> None:
    """Delete an endpoint and its secrets; its undelivered messages are cancelled."""
    with ws.connect() as con:
        cancelled = endpoints.remove(con, endpoint_id)
    click.echo(f"removed {endpoint_id}; {cancelled} undelivered message(s) cancelled")


@webhooks_group.command("rotate-secret")
@click.argument("endpoint_id")
@click.option("--overlap", "overlap_hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="Hours the previous secret keeps signing too, so the receiver can switch over; 0 stops it now.")
@json_option
@pass_ws
def webhooks_rotate(ws: Workspace, endpoint_id: str, overlap_hours: float, as_json: bool) -> None:
    """Give an endpoint a new signing secret (printed once)."""
    vault = ws.vault()
    with ws.connect() as con:
        secret = endpoints.rotate_secret(con, vault, endpoint_id, overlap=dt.timedelta(hours=overlap_hours))
        until = endpoints.get(con, endpoint_id).previous_secret_until
    emit({"id": endpoint_id, "secret": secret, "previous_secret_until": until}, as_json, _rotated)


def _rotated(d: dict[str, Any]) -> str:
    line = f"new signing secret for {d['id']} (shown once): {d['secret']}"
    if d["previous_secret_until"] is None:
        return line + "\nthe previous secret no longer signs"
    return line + f"\nthe previous secret also signs until {d['previous_secret_until']:%Y-%m-%d %H:%M %Z}"


@webhooks_group.command("enable")
@click.argument("endpoint_id")
@pass_ws
def webhooks_enable(ws: Workspace, endpoint_id: str) -> None:
    """Enable an endpoint again (e.g. after a 410): the messages it held become due."""
    with ws.connect() as con:
        endpoints.set_enabled(con, endpoint_id, True)
    click.echo(f"enabled {endpoint_id}")


@webhooks_group.command("disable")
@click.argument("endpoint_id")
@pass_ws
def webhooks_disable(ws: Workspace, endpoint_id: str) -> None:
    """Stop delivering to an endpoint; its messages wait until it is enabled."""
    with ws.connect() as con:
        endpoints.set_enabled(con, endpoint_id, False, "disabled by a user")
    click.echo(f"disabled {endpoint_id}")


@webhooks_group.command("test")
@click.argument("endpoint_id")
@json_option
@pass_ws
def webhooks_test(ws: Workspace, endpoint_id: str, as_json: bool) -> None:
    """Send a `webhook.test` event to the endpoint now; fails unless it answers 2xx."""
    attempt = send_test(ws, endpoint_id)
    emit(
        {"message_id": attempt.message_id, "http_status": attempt.http_status,
         "latency_ms": round(attempt.latency_ms, 1)},
        as_json,
        lambda d: f"delivered {d['message_id']}: HTTP {d['http_status']} in {d['latency_ms']} ms",
    )


@webhooks_group.command("deliver")
@click.option("--max-seconds", type=float, help="Stop claiming new messages after this long.")
@json_option
@pass_ws
def webhooks_deliver(ws: Workspace, max_seconds: float | None, as_json: bool) -> None:
    """Send what is due now and return."""
    with tqdm(desc="webhooks", unit="attempt", disable=as_json or not sys.stderr.isatty()) as bar:
        report = run_sync(Worker(ws, max_seconds=max_seconds, progress=bar.update))
    emit(report.as_dict(), as_json,
         lambda d: f"delivered {d['delivered']}, failed {d['failed']} (will retry), dead {d['dead']},"
                   f" pending {d['pending']}")


@webhooks_group.command("prune")
@click.option("--older-than-days", type=click.IntRange(min=0),
              help="Forget what finished more than this many days ago [default: the webhook_retention_days setting].")
@json_option
@pass_ws
def webhooks_prune(ws: Workspace, older_than_days: int | None, as_json: bool) -> None:
    """Forget delivered and cancelled messages and their attempts; pending and dead ones stay."""
    cutoff = None if older_than_days is None else dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)
    pruned = outbox.prune_in_chunks(ws, older_than=cutoff)  # short chunks: readers are not kept waiting
    emit(pruned, as_json, lambda d: f"pruned {d['messages']} message(s) and {d['attempts']} attempt(s)")


@webhooks_group.command("replay")
@click.argument("message_id", required=False)
@click.option("--dead", is_flag=True, help="Replay every dead message.")
@json_option
@pass_ws
def webhooks_replay(ws: Workspace, message_id: str | None, dead: bool, as_json: bool) -> None:
    """Queue MESSAGE_ID (or every dead message with --dead) again, from its first attempt."""
    if (message_id is None) == (not dead):
        raise InvalidInput("replay: give a message id or --dead (not both)")
    with ws.connect() as con:
        count = outbox.replay(con, now=dt.datetime.now(dt.UTC), message_id=message_id, dead=dead)
    emit({"replayed": count}, as_json, lambda d: f"{d['replayed']} message(s) queued again; run `webhooks deliver`")


@webhooks_group.command("log")
@click.option("--message", "message_id", help="Only this message.")
@click.option("--endpoint", "endpoint_id", help="Only this endpoint.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@pass_ws
def webhooks_log(ws: Workspace, message_id: str | None, endpoint_id: str | None, limit: int, as_json: bool) -> None:
    """Delivery attempts, newest first: status, latency, the start of the answer."""
    with ws.connect() as con:
        rows = outbox.attempt_log(con, message_id=message_id, endpoint_id=endpoint_id, limit=limit)
    emit(rows, as_json, lambda r: table(r, LOG_COLUMNS))


@webhooks_group.command("messages")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead", "cancelled"]))
@click.option("--endpoint", "endpoint_id", help="Only this endpoint.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@pass_ws
def webhooks_messages(ws: Workspace, status: str | None, endpoint_id: str | None, limit: int,
                      as_json: bool) -> None:
    """Messages and their state (dead ones can be replayed)."""
    with ws.connect() as con:
        rows = outbox.messages(con, status=status, endpoint_id=endpoint_id, limit=limit)
    emit(rows, as_json, lambda r: table(r, MESSAGE_COLUMNS))


@webhooks_group.command("inbound-secret")
@click.argument("source")
@click.option("--secret-stdin", is_flag=True, help="Read the whsec_ secret from the first line of stdin.")
@pass_ws
def webhooks_inbound_secret(ws: Workspace, source: str, secret_stdin: bool) -> None:
    """Store the secret SOURCE signs its webhooks with (they arrive at /reconwb/webhooks/SOURCE)."""
    inbound.check_source(source)
    secret = read_secret(secret_stdin, f"Signing secret of {source}")
    vault = ws.vault()
    with ws.connect() as con:
        inbound.set_secret(con, vault, source, secret)
    click.echo(f"inbound secret stored for {source}")


@webhooks_group.command("inbound-list")
@click.option("--source")
@click.option("--status", type=click.Choice(["received", "processed", "failed"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@pass_ws
def webhooks_inbound_list(ws: Workspace, source: str | None, status: str | None, limit: int,
                          as_json: bool) -> None:
    """Inbound webhooks received, newest first."""
    with ws.connect() as con:
        rows = inbound.list_inbound(con, source=source, status=status, limit=limit)
    emit(rows, as_json, lambda r: table(r, INBOUND_COLUMNS))


@webhooks_group.command("inbound-process")
@json_option
@pass_ws
def webhooks_inbound_process(ws: Workspace, as_json: bool) -> None:
    """Hand stored inbound webhooks to their handlers (the server does this after each one it receives)."""
    report = inbound.process_inbound(ws)
    emit(report.as_dict(), as_json,
         lambda d: f"processed {d['processed']}, failed {d['failed']}, waiting for a handler {d['waiting']}")
