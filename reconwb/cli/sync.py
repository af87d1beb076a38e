"""`reconwb sync` and `reconwb otp`: fetch from the banks, and answer a bank's second-factor question."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconwb import otp
from reconwb import sync as engine
from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.errors import InvalidInput
from reconwb.workspace import Workspace

RESULT_COLUMNS = ["connection", "status", "health", "fetched", "inserted", "updated", "message"]


@cli.command("sync")
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Every connection that is due (one browser for all).")
@click.option("--now", is_flag=True, help="Run now: clear a block or backoff and try once.")
@click.option("--retry-same-credentials", is_flag=True,
              help="Log in once more with credentials the bank rejected; refused when that could lock the login.")
@click.option("--concurrency", type=click.IntRange(1, 16), default=4, show_default=True,
              help="With --all: connections fetched at the same time.")
@json_option
@pass_ws
def sync_cmd(ws: Workspace, name: str | None, all_: bool, now: bool, retry_same_credentials: bool,
             concurrency: int, as_json: bool) -> None:
    """Fetch transactions of connection NAME, or of every due connection with --all.

    Never logs in with credentials the bank rejected (update them with `reconwb connections credentials
    NAME`), never twice at once. Exits 0 when every fetch ran and succeeded (or waits for the provider's
    results), 1 when one failed, 3 when one was skipped (a fetch already running, a backoff, rejected
    credentials); the JSON or table still shows every result.
    """
    if bool(name) == all_:
        raise InvalidInput("give a connection NAME or --all (not both)")
    if retry_same_credentials and all_:
        raise InvalidInput("--retry-same-credentials is for one connection NAME at a time")
    if all_:
        names = None
        if now:  # a person asked for all of them: include those a schedule would skip
            from reconwb import connections

            with ws.connect() as con:
                names = [c.name for c in connections.list_connections(con, include_removed=False)
                         if c.needs_credentials]
        results = engine.sync_many(ws, names, now=now, concurrency=concurrency)
        emit([r.as_dict() for r in results], as_json, lambda rows: table(rows, RESULT_COLUMNS))
    else:
        results = [engine.sync(ws, name, now=now or retry_same_credentials,  # type: ignore[arg-type]
                               retry_same_credentials=retry_same_credentials)]
        emit(results[0].as_dict(), as_json, lambda r: table([r], RESULT_COLUMNS))
    raise click.exceptions.Exit(_exit_code(results))


def _exit_code(results: list[engine.SyncResult]) -> int:
    """0 only when every fetch ran and succeeded; 1 when one failed; 3 when one was skipped. One line says why."""
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    if failed:
        sys.stderr.write(f"error: {len(failed)} of {len(results)} fetches failed: "
                         + "; ".join(f"{r.connection} ({r.health})" for r in failed) + "\n")
        return 1
    if skipped:
        if len(results) == 1:
            sys.stderr.write(f"error: {skipped[0].connection} skipped: {skipped[0].message}\n")
        else:
            sys.stderr.write(f"error: {len(skipped)} of {len(results)} connections skipped: "
                             + "; ".join(r.message or r.connection for r in skipped) + "\n")
        return 3
    return 0


@cli.command("otp")
@click.argument("name")
@click.argument("code", required=False)
@click.option("--code-stdin", is_flag=True,
              help="Read the code from stdin instead of the command line (keeps it out of the process list).")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path),
              help="Without CODE: save the bank page's screenshot (PNG) of the waiting challenge here.")
@json_option
@pass_ws
def otp_cmd(ws: Workspace, name: str, code: str | None, code_stdin: bool, screenshot: Path | None,
            as_json: bool) -> None:
    """Give the waiting fetch of NAME the one-time CODE the bank sent; without CODE, show what is waiting."""
    if code_stdin:
        if code is not None:
            raise InvalidInput("give the code as CODE or on stdin with --code-stdin, not both")
        code = read_secret(True, "One-time code")
    if code is not None:
        emit(otp.submit_otp(ws, name, code), as_json, lambda r: f"code handed to the waiting fetch of {name}")
        return
    challenge = otp.pending_challenge(ws, name)
    if challenge is None:
        emit({"connection": name, "challenge": None}, as_json, lambda _: f"no one-time code is awaited for {name}")
        return
    if screenshot is not None and challenge.screenshot:
        screenshot.write_bytes(challenge.screenshot)
    emit(challenge.as_dict(), as_json,
         lambda c: f"{name}: the bank asks for a one-time code until {c['expires_at']:%H:%M:%S} UTC\n{c['prompt']}")
