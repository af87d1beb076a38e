"""Workspace administration: init, settings, vault key rotation."""

from __future__ import annotations

from pathlib import Path

import click

from reconwb import banks, settings
from reconwb.cli.base import cli, emit, json_option, pass_ws
from reconwb.connectors import registry
from reconwb.store.migrate import current_version
from reconwb.vault import ensure_key_file, rotate_key
from reconwb.workspace import Workspace


def init_workspace(ws: Workspace) -> dict[str, object]:
    """Create or migrate the store and the key file; safe to run again."""
    created_key = ensure_key_file(ws)
    ws.vault()  # fail now, clearly, if the key is unusable
    with ws.connect() as con:
        banks.ensure_statement_bank(con)
        registry.register_banks(con)
        version = current_version(con)
    return {
        "db": str(ws.db_path),
        "schema_version": version,
        "key_file": str(created_key or ws.default_key_file),
        "key_created": created_key is not None,
    }


@cli.command("init")
@json_option
@pass_ws
def init_cmd(ws: Workspace, as_json: bool) -> None:
    """Create or migrate the store and the vault key file."""
    result = init_workspace(ws)
    emit(
        result,
        as_json,
        lambda r: f"store {r['db']} at schema version {r['schema_version']}"
        + (f"\nvault key created at {r['key_file']} (mode 0600): back it up" if r["key_created"] else ""),
    )


@cli.group("settings")
def settings_group() -> None:
    """Workspace settings."""


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@pass_ws
def settings_set(ws: Workspace, key: str, value: str) -> None:
    """Set KEY to VALUE (e.g. operation_mode passthrough)."""
    with ws.connect() as con:
        settings.set_value(con, key, value)


@settings_group.command("get")
@click.argument("key", required=False)
@json_option
@pass_ws
def settings_get(ws: Workspace, key: str | None, as_json: bool) -> None:
    """Show one setting, or all of them."""
    with ws.connect() as con:
        values = {key: settings.get(con, key)} if key else settings.all_settings(con)
    emit(values, as_json, lambda v: "\n".join(f"{k} = {x}" for k, x in v.items()))


@cli.group("vault")
def vault_group() -> None:
    """The credential vault."""


@vault_group.command("rotate-key")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the new key.")
@json_option
@pass_ws
def vault_rotate(ws: Workspace, new_key_file: Path | None, as_json: bool) -> None:
    """Re-encrypt every secret with a new key, in one transaction."""
    result = rotate_key(ws, new_key_file)
    emit(result, as_json, lambda r: f"re-sealed {r['resealed']} secrets with key {r['key_id']} ({r['key_file']})")
