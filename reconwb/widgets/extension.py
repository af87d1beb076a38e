"""`%load_ext reconwb`: magics for the store and the widgets, in one line."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from reconwb.store.readonly import query
from reconwb.workspace import Workspace


@magics_class
class ReconwbMagics(Magics):
    """`%reconwb status` shows the connection table, `%reconwb panels` the installed panels, `%reconwb panel NAME`
    one of them; `%%reconwb_sql` runs a read-only query."""

    @line_magic("reconwb")
    def reconwb(self, line: str) -> Any:
        command, _, rest = line.strip().partition(" ")
        if command in ("", "status"):
            from reconwb.widgets.status import ConnectionStatusTable

            return ConnectionStatusTable(Workspace.from_env())
        if command == "panels":
            from reconwb.widgets.panels import listing

            return listing()
        if command == "panel" and rest.strip():
            from reconwb.widgets.panels import show

            return show(rest.strip(), Workspace.from_env())
        raise ValueError(f"unknown %reconwb command {line.strip()!r}; try `%reconwb status`, `%reconwb panels` or"
                         " `%reconwb panel NAME`")

    @cell_magic("reconwb_sql")
    def reconwb_sql(self, line: str, cell: str) -> Any:
        """The cell's SELECT as a polars DataFrame; `%%reconwb_sql name` also stores it in `name`."""
        frame = query(Workspace.from_env(), cell)
        target = line.strip()
        if target:
            self.shell.user_ns[target] = frame
        return frame


def load(ipython: Any) -> None:
    from reconwb.redaction import install

    install()
    ipython.register_magics(ReconwbMagics)
