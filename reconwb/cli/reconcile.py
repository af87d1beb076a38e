"""`reconwb reconcile`, `reconwb payments` and `reconwb matches`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import click

from reconwb import money, payments
from reconwb.cli.base import cli, emit, json_option, pass_ws, read_secret, table
from reconwb.cli.statements import overrides
from reconwb.errors import InvalidInput
from reconwb.workspace import Workspace

FILE = click.Path(dir_okay=False, path_type=Path)


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return os.environ.get("RECONWB_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _report_text(r: dict[str, Any]) -> str:
    if r["mode"] == "passthrough":
        return "operation mode is passthrough: nothing matched (transactions are forwarded as they arrive)"
    head = "dry run: would match" if r["dry_run"] else "matched"
    if r.get("skipped"):
        head = "inputs unchanged since the last run (skipped): matched"
    return (
        f"{head} {r['matched']} payments in full, {r['partially_matched']} partly; {r['suggested']} suggestions;"
        f" {r['unmatched_transactions']} deposits unmatched, {r['open_payments']} payments open"
        f" (rules {r['rule_version']}, {r['seconds']} s)"
    )


@cli.command("reconcile")
@click.option("--transactions", "transactions_csv", type=FILE,
              help="File mode: Transactions CSV, or a bank's CSV export (layout detected; see --transactions-mapping).")
@click.option("--payments", "payments_csv", type=FILE,
              help="File mode: Payments CSV, or an invoicing export (layout detected; see --payments-mapping).")
@click.option("--out", "out_csv", type=FILE, help="File mode: where to write the Matches CSV.")
@click.option("--transactions-mapping", type=FILE, help="File mode: mapping file for --transactions (TOML).")
@click.option("--payments-mapping", type=FILE, help="File mode: mapping file for --payments (TOML).")
@click.option("--connection", help="Store mode: only this connection's transactions.")
@click.option("--rules", type=FILE, help="Rules file (TOML); default rules without it.")
@click.option("--rates", type=FILE, help="File mode: exchange rates (date,base,quote,rate or ECB-style CSV).")
@click.option("--dry-run", is_flag=True, help="Store mode: report what would change, change nothing.")
@json_option
@pass_ws
def reconcile_cmd(ws: Workspace, transactions_csv: Path | None, payments_csv: Path | None, out_csv: Path | None,
                  transactions_mapping: Path | None, payments_mapping: Path | None,
                  connection: str | None, rules: Path | None, rates: Path | None, dry_run: bool,
                  as_json: bool) -> None:
    """Match deposits against expected payments: two files (file mode) or the store (store mode)."""
    from reconwb.matching import reconcile_files, reconcile_store

    file_options = {"--transactions": transactions_csv, "--payments": payments_csv, "--out": out_csv}
    if any(v is not None for v in file_options.values()):
        missing = [k for k, v in file_options.items() if v is None]
        if missing:
            raise InvalidInput(f"file mode needs --transactions, --payments and --out (missing {', '.join(missing)})")
        if connection or dry_run:
            raise InvalidInput("--connection and --dry-run belong to store mode, not file mode")
        report = reconcile_files(transactions_csv, payments_csv, out_csv, rules,  # type: ignore[arg-type]
                                 transactions_mapping=overrides("transactions", transactions_mapping, ()),
                                 payments_mapping=overrides("payments", payments_mapping, ()), rates=rates)
        emit(report.as_dict(), as_json, lambda r: f"{r['links']} links in {r['groups']} groups written to {r['out']};"
             f" {r['suggested']} suggestions not written; {r['unmatched_transactions']} deposits unmatched")
        return
    if rates is not None:
        raise InvalidInput("--rates belongs to file mode; in store mode import them with `reconwb rates import`")
    report = reconcile_store(ws, connection=connection, rules=rules, dry_run=dry_run)
    emit(report.as_dict(), as_json, _report_text)


# -- payments ---------------------------------------------------------------------------------------------------


@cli.group("payments")
def payments_group() -> None:
    """Expected payments (invoices)."""


@payments_group.command("import")
@click.argument("file", type=FILE)
@click.option("--mapping", "mapping_file", type=FILE, help="Column mapping file (TOML; see `payments mapping"
              " --example`).")
@click.option("--map", "map_options", multiple=True, metavar="FIELD=COLUMN",
              help="Map one field to a column (repeatable), e.g. --map payment_id=invoice_id.")
@json_option
@pass_ws
def payments_import(ws: Workspace, file: Path, mapping_file: Path | None, map_options: tuple[str, ...],
                    as_json: bool) -> None:
    """Import payments (all or nothing): the Payments CSV, any invoicing export (columns detected or mapped),
    or Parquet."""
    keys = overrides("payments", mapping_file, map_options)
    if not file.is_file():  # before the store is opened
        raise InvalidInput(f"{file}: no such file")
    result = payments.import_into(ws, file, keys)  # read and checked before the store is opened
    emit(result, as_json, lambda r: f"imported {r['imported']}, updated {r['updated']}, unchanged {r['unchanged']}")


@payments_group.command("mapping")
@click.option("--example", is_flag=True, required=True, help="Print a commented mapping file to start from.")
def payments_mapping(example: bool) -> None:
    """Print a commented column mapping for invoicing exports (use it with --mapping FILE)."""
    from reconwb import mappings

    click.echo(mappings.example("payments").rstrip())


@payments_group.command("pull")
@click.argument("url")
@click.option("--auth", type=click.Choice(payments.AUTH_SCHEMES), help="How the endpoint wants the token.")
@click.option("--token-stdin", is_flag=True, help="Read the token from the first line of stdin.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--retries", type=int, default=3, show_default=True)
@json_option
@pass_ws
def payments_pull(ws: Workspace, url: str, auth: str | None, token_stdin: bool, timeout: float, retries: int,
                  as_json: bool) -> None:
    """Pull pending payments from the customer's endpoint URL; the first pull stores the (sealed) token."""
    vault = ws.vault()
    if auth or token_stdin:
        if not auth:
            raise InvalidInput("--token-stdin needs --auth bearer|api-key")
        token = read_secret(token_stdin, f"Token for {url}")
        with ws.connect() as con:
            source = payments.save_source(con, vault, url, auth, token)
    else:
        with ws.connect() as con:
            source = payments.get_source(con, url)
    result = payments.pull(ws.connect, vault, source, timeout=timeout, retries=retries)
    emit(result, as_json, lambda r: f"fetched {r['fetched']}: imported {r['imported']}, updated {r['updated']},"
         f" cancelled {r['cancelled']}")


@payments_group.command("list")
@click.option("--status", type=click.Choice(payments.STATUSES))
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--offset", type=int, default=0)
@json_option
@pass_ws
def payments_list(ws: Workspace, status: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Payments with their status and open amount."""
    with ws.connect() as con:
        rows = payments.list_payments(con, status=status, limit=limit, offset=offset).to_dicts()
    emit(rows, as_json, lambda r: table(r, ["payment_id", "amount", "open_amount", "currency", "due_on",
                                            "reference", "payer", "status"]))


# -- matches ----------------------------------------------------------------------------------------------------


@cli.group("matches")
def matches_group() -> None:
    """Match groups: review suggestions, link and unlink by hand."""


by_option = click.option("--by", help="Who does this (audit trail); default $RECONWB_USER or the login name.")
note_option = click.option("--note", help="Why (kept in the audit trail).")


@matches_group.command("list")
@click.option("--status", type=click.Choice(["matched", "suggested", "rejected", "removed"]))
@click.option("--limit", type=int, default=100, show_default=True, help="Groups per page.")
@click.option("--offset", type=int, default=0)
@json_option
@pass_ws
def matches_list(ws: Workspace, status: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Match groups, one row per link."""
    from reconwb.matching import groups

    rows = groups(ws, status=status, limit=limit, offset=offset).drop("evidence").to_dicts()
    emit(rows, as_json, lambda r: table(r, ["group_id", "status", "kind", "rule", "confidence", "txn_id",
                                            "payment_id", "linked_amount", "fee"]))


@matches_group.command("link")
@click.option("--txn", "txn_ids", type=int, multiple=True, required=True, help="Transaction id (repeatable).")
@click.option("--payment", "payment_ids", multiple=True, required=True, help="Payment id (repeatable).")
@click.option("--write-off", is_flag=True,
              help="Settle what the money leaves open as a fee (bank charge, accepted underpayment).")
@by_option
@note_option
@json_option
@pass_ws
def matches_link(ws: Workspace, txn_ids: tuple[int, ...], payment_ids: tuple[str, ...], write_off: bool,
                 by: str | None, note: str | None, as_json: bool) -> None:
    """Link transactions to payments by hand (pinned)."""
    from reconwb.matching import link

    result = link(ws, txn_ids, payment_ids, actor=_actor(by), note=note, write_off=write_off)
    emit(result, as_json, _linked)


def _linked(result: dict[str, Any]) -> str:
    fee = sum(link["fee"] for link in result["links"])
    written_off = f"; {money.display(fee)} written off as fee" if fee else ""
    return f"linked as {result['group_id']} ({result['kind']})" + written_off


def _decision(name: str, doc: str) -> None:
    @matches_group.command(name, help=doc)
    @click.argument("group_id")
    @by_option
    @note_option
    @json_option
    @pass_ws
    def command(ws: Workspace, group_id: str, by: str | None, note: str | None, as_json: bool) -> None:
        from reconwb import matching

        result = getattr(matching, name)(ws, group_id, actor=_actor(by), note=note)
        emit(result, as_json, lambda r: f"{r['group_id']}: {r['status']}")


_decision("unlink", "Undo a match; the pair is not proposed again.")
_decision("accept", "Accept a suggestion (pinned).")
_decision("reject", "Reject a suggestion; it is not proposed again.")


# -- rules ------------------------------------------------------------------------------------------------------


@cli.group("rules")
def rules_group() -> None:
    """Matching rules files."""


@rules_group.command("defaults")
def rules_defaults() -> None:
    """Print the default rules as TOML: a starting point for your own rules file."""
    from reconwb.matching.rules import DEFAULT_TOML

    click.echo(DEFAULT_TOML.strip())


@rules_group.command("check")
@click.argument("file", type=FILE)
@json_option
def rules_check(file: Path, as_json: bool) -> None:
    """Validate a rules file and show its version and rule order."""
    from reconwb.matching import rules

    loaded = rules.load(file)
    summary = {"version": loaded.version, "rules": [r.name for r in loaded.rules],
               "auto": loaded.auto_threshold, "suggest": loaded.suggest_threshold}
    emit(summary, as_json, lambda s: f"{file}: version {s['version']}; rules in order: {', '.join(s['rules'])}")


# -- rates and payer aliases ------------------------------------------------------------------------------------


@cli.group("rates")
def rates_group() -> None:
    """Exchange rates for deposits in another currency than their invoice."""


@rates_group.command("import")
@click.argument("file", type=FILE)
@json_option
@pass_ws
def rates_import(ws: Workspace, file: Path, as_json: bool) -> None:
    """Import rates from an ECB-style CSV (Date,USD,JPY,... against EUR) or a date,base,quote,rate CSV."""
    from reconwb.matching import rates

    with ws.connect() as con:
        result = rates.import_file(con, file)
    emit(result, as_json, lambda r: f"{r['imported']} rates imported, {r['replaced']} replaced")


@cli.group("payers")
def payers_group() -> None:
    """Who pays under which name: aliases learned from people's links."""


@payers_group.group("aliases", invoke_without_command=True)
@click.option("--polarity", type=click.Choice(["alias", "rejected"]), help="Only aliases, or only rejected pairs.")
@json_option
@pass_ws
@click.pass_context
def payers_aliases(ctx: click.Context, ws: Workspace, polarity: str | None, as_json: bool) -> None:
    """List remembered aliases (counterparty -> payer) and rejected name pairs; `remove ID` forgets one."""
    if ctx.invoked_subcommand is not None:
        return
    from reconwb.matching.aliases import list_aliases

    rows = list_aliases(ws, polarity).to_dicts()
    emit(rows, as_json, lambda r: table(r, ["alias_id", "polarity", "kind", "counterparty", "payer", "created_by",
                                            "created_at"]))


@payers_aliases.command("remove")
@click.argument("alias_id")
@click.option("--by", help="Who is acting (default: RECONWB_USER or the login name).")
@json_option
@pass_ws
def payers_aliases_remove(ws: Workspace, alias_id: str, by: str | None, as_json: bool) -> None:
    """Forget an alias or a rejected pair; later runs no longer use it."""
    from reconwb.matching.aliases import remove

    result = remove(ws, alias_id, actor=_actor(by))
    emit(result, as_json, lambda r: f"removed {r['polarity']} {r['counterparty']} -> {r['payer']}")
