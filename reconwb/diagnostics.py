"""What a failed fetch leaves behind for whoever fixes it: the page's screenshot and HTML, already redacted.

Connectors attach the files to the exception (`err.diagnostics`, name -> bytes); the sync engine writes them to
`<workspace>/diagnostics/run-<id>/` (0700, files 0600: bank pages are private) and links the directory from
`sync_runs.diagnostics_path`.
"""

from __future__ import annotations

from pathlib import Path

from reconwb.private import private_dir, write_private
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace


def save(ws: Workspace, run_id: int, err: BaseException) -> Path | None:
    """Write the exception's diagnostics files, if it carries any; return the directory."""
    files: dict[str, bytes] | None = getattr(err, "diagnostics", None)
    if not files:
        return None
    private_dir(ws.diagnostics_dir)
    target = private_dir(ws.diagnostics_dir / f"run-{run_id}")
    for name, content in files.items():
        write_private(target / Path(name).name, content)
    write_private(target / "error.txt", f"{type(err).__name__}: {redact_exception(err)}\n")
    return target
