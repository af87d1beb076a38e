"""`reconwb statements parse|import` and `reconwb transactions export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconwb import autoreconcile, connections, jsonutil, mappings, transactions
from reconwb.cli.base import cli, emit, json_option, pass_ws
from reconwb.statements import FORMATS, csv, model, parse
from reconwb.statements.importer import import_into
from reconwb.workspace import Workspace

format_option = click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto",
                             show_default=True, help="File format; auto looks at the content.")
mapping_option = click.option("--mapping", "mapping_file", type=click.Path(dir_okay=False, path_type=Path),
                              help="CSV column mapping file (TOML; see `statements mapping --example`).")
map_option = click.option("--map", "map_options", multiple=True, metavar="FIELD=COLUMN",
                          help="Map one field to a CSV column (repeatable), e.g. --map booked_on=Buchungstag.")
preset_option = click.option("--preset", type=click.Choice(sorted(csv.PRESETS)), help="Named CSV layout.")
encoding_option = click.option("--encoding", help="Text encoding (e.g. latin-1, cp1252); detected when not given.")


def _mapping(mapping_file: Path | None, preset: str | None, map_options: tuple[str, ...] = ()
             ) -> tuple[csv.CsvMapping | None, dict | None]:
    """A preset (complete), or the keys a mapping file and --map options put on top of what is detected."""
    if preset and (mapping_file or map_options):
        raise click.UsageError("give --preset, or --mapping/--map, not both")
    if preset:
        return csv.preset(preset), None
    return None, overrides("transactions", mapping_file, map_options)


def overrides(kind: str, mapping_file: Path | None, map_options: tuple[str, ...]) -> dict | None:
    """Mapping keys from a file, then from --map options (which win per key); None when neither is given."""
    if not mapping_file and not map_options:
        return None
    data = mappings.load(mapping_file, kind) if mapping_file else {}
    extra = mappings.options(map_options, kind)
    return {**data, **{k: v for k, v in extra.items() if k != "columns"},
            "columns": {**data.get("columns", {}), **extra["columns"]}}


@cli.group("statements")
def statements_group() -> None:
    """Statement files: OFX/QFX, MT940, CAMT.053/054, CSV."""


@statements_group.command("parse")
@click.argument("file", type=click.Path(path_type=Path))
@format_option
@mapping_option
@map_option
@preset_option
@encoding_option
def statements_parse(file: Path, fmt: str, mapping_file: Path | None, map_options: tuple[str, ...],
                     preset: str | None, encoding: str | None) -> None:
    """Print FILE's transactions as a JSON array (Transactions CSV fields plus what else the file says)."""
    mapping, keys = _mapping(mapping_file, preset, map_options)
    _, statements = parse(file, fmt, mapping=mapping, encoding=encoding, overrides=keys)
    out = sys.stdout
    out.write("[")
    for i, record in enumerate(model.records(statements)):
        out.write(("," if i else "") + "\n  " + jsonutil.dumps(record))
    out.write("\n]\n")


@statements_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--connection", "connection", required=True, help="Connection NAME (created if new).")
@format_option
@mapping_option
@map_option
@preset_option
@encoding_option
@json_option
@pass_ws
def statements_import(ws: Workspace, file: Path, connection: str, fmt: str, mapping_file: Path | None,
                      map_options: tuple[str, ...], preset: str | None, encoding: str | None, as_json: bool) -> None:
    """Store FILE's transactions under a connection; importing it again adds nothing."""
    mapping, keys = _mapping(mapping_file, preset, map_options)
    # the whole file is read before the store is opened: a bad file never holds the store, and stores nothing
    found, statements = parse(file, fmt, mapping=mapping, encoding=encoding, overrides=keys)
    result = import_into(ws, statements, connection, file=file, fmt=found)
    autoreconcile.after_ingest(ws)
    data = result.as_dict()
    if as_json:
        emit(data, True)
        return
    click.echo(f"{result.file} ({result.format}): {result.imported} imported, {result.duplicates} duplicates,"
               f" {result.updated} updated")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@statements_group.command("mapping")
@click.option("--example", is_flag=True, required=True, help="Print a commented mapping file to start from.")
def statements_mapping(example: bool) -> None:
    """Print a commented CSV mapping for bank exports (use it with --mapping FILE)."""
    click.echo(mappings.example("transactions").rstrip())


@cli.group("transactions")
def transactions_group() -> None:
    """Stored transactions."""


@transactions_group.command("export")
@click.option("--connection", "connection", help="Only this connection's accounts.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the Transactions CSV.")
@json_option
@pass_ws
def transactions_export(ws: Workspace, connection: str | None, out: Path, as_json: bool) -> None:
    """Write the Transactions CSV (txn_id,account_id,booked_on,amount,currency,...)."""
    with ws.connect(read_only=True) as con:
        connection_id = connections.get(con, connection).connection_id if connection else None
        count = transactions.export_csv(con, str(out.absolute()), connection_id=connection_id)
    emit({"rows": count, "out": str(out)}, as_json, lambda d: f"wrote {d['rows']} transactions to {d['out']}")
