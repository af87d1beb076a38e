"""Workspace administration: init, settings, vault key rotation."""

from __future__ import annotations

from pathlib import Path

import click

from reconwb import banks, scaffold, settings
from reconwb.cli.base import Target, cli, emit, json_option, pass_ws
from reconwb.connectors import registry
from reconwb.store.migrate import current_version
from reconwb.vault import ensure_key_file, rotate_key
from reconwb.workspace import DEFAULT_DB, STORE_NAME, Workspace, discover


def init_workspace(ws: Workspace, *, simulated_banks: bool = False) -> dict[str, object]:
    """Create or migrate the store and the key file; safe to run again.

    The banks registered are those of the installed real connectors (built-in and plugins); the simulators'
    banks only with `simulated_banks` (the demo and the tests), so real books never offer a simulated bank.
    """
    created_key = ensure_key_file(ws)
    ws.vault()  # fail now, clearly, if the key is unusable
    with ws.connect() as con:
        banks.ensure_statement_bank(con)
        registry.register_banks(con, include_simulated=simulated_banks)
        version = current_version(con)
    return {
        "db": str(ws.db_path),
        "schema_version": version,
        "key_file": str(created_key or ws.default_key_file),
        "key_created": created_key is not None,
    }


def _init_text(r: dict) -> str:
    lines = [f"store {r['db']} at schema version {r['schema_version']}"]
    if r["key_created"]:
        lines.append(f"vault key created at {r['key_file']} (mode 0600): back it up")
    if r.get("created"):
        lines.append(f"workspace {r['workspace']}: created {', '.join(r['created'])}")
    return "\n".join(lines)


def _new_store(cwd: Path) -> Path:
    """Where a new workspace goes: the current folder, except in a source checkout (its own is data/)."""
    checkout = (cwd / "pyproject.toml").is_file() and (cwd / "reconwb" / "__init__.py").is_file()
    return (cwd / DEFAULT_DB) if checkout else cwd / STORE_NAME


@cli.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_obj
def init_cmd(target: Target, directory: Path | None, as_json: bool) -> None:
    """Create a workspace in DIRECTORY, or bring one up to date (it never overwrites anything).

    A workspace is a folder with the store, its vault key (mode 0600), schedule.toml, editable copies of the
    analyst notebooks and a README. Without DIRECTORY: the store --db or RECONWB_DB names, else the workspace
    of the current directory or one above it, else a new one in the current directory (data/ in a source
    checkout).
    """
    if directory is not None:
        ws = Workspace.from_env(directory / STORE_NAME)
    elif target.db:
        ws = target.workspace()
    else:
        ws = Workspace.from_env(discover() or _new_store(Path.cwd()))
    created = scaffold.lay_out(ws.data_dir)
    result = {**init_workspace(ws), "workspace": str(ws.data_dir), "created": created}
    emit(result, as_json, _init_text)


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
