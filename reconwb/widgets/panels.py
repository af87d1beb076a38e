"""Widget panels, built in and from other packages: a panel is a callable taking a Workspace, returning a widget.

A package adds a panel by declaring an entry point in the `reconwb.panels` group, e.g. in its pyproject.toml:

    [project.entry-points."reconwb.panels"]
    overdue = "acme_reconwb.panels:OverduePanel"

`discover()` lists them (built-ins first; a plugin cannot replace a built-in), `show(name, ws)` builds one, and
`%reconwb panels` / `%reconwb panel NAME` do the same in a notebook. A plugin that fails to import is listed with
its error instead of taking the others down.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

import ipywidgets as w

from reconwb.errors import NotFound
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "reconwb.panels"
BUILTIN: dict[str, str] = {
    "status": "reconwb.widgets.status:ConnectionStatusTable",
    "banners": "reconwb.widgets.banner_panel:BannerPanel",
    "add_connection": "reconwb.widgets.add_connection:AddConnectionForm",
    "totals": "reconwb.widgets.totals:TotalsPanel",
    "explorer": "reconwb.widgets.explorer:ReconciliationExplorer",
    "plots": "reconwb.widgets.explorer:PlotsPanel",
}

PanelFactory = Callable[[Workspace], w.Widget]


@dataclass(frozen=True)
class Panel:
    name: str
    target: str  # "module:attr"
    source: str  # "builtin" or the distribution that declares it
    factory: PanelFactory | None
    error: str | None = None

    @property
    def description(self) -> str:
        doc = (getattr(self.factory, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


def _load_builtin(target: str) -> PanelFactory:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def discover() -> dict[str, Panel]:
    """Every panel by name. Read afresh each call, so a package installed in a running kernel shows up."""
    found = {name: Panel(name, target, "builtin", _load_builtin(target)) for name, target in BUILTIN.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            log.warning("panel plugin %s ignored: a built-in panel has that name", ep.name)
            continue
        source = ep.dist.name if ep.dist is not None else "?"
        try:
            factory = ep.load()
        except Exception as err:  # a broken plugin must not hide the others
            found[ep.name] = Panel(ep.name, ep.value, source, None, redact_exception(err))
            continue
        if not callable(factory):
            found[ep.name] = Panel(ep.name, ep.value, source, None, "not callable")
            continue
        found[ep.name] = Panel(ep.name, ep.value, source, factory)
    return found


def load(name: str) -> PanelFactory:
    panels = discover()
    panel = panels.get(name)
    if panel is None:
        raise NotFound(f"no panel {name!r}; installed: {', '.join(sorted(panels))}")
    if panel.factory is None:
        raise NotFound(f"panel {name!r} ({panel.target}) could not be loaded: {panel.error}")
    return panel.factory


def show(name: str, ws: Workspace, **kwargs: Any) -> w.Widget:
    """Build panel `name` for the workspace."""
    widget = load(name)(ws, **kwargs)
    if not isinstance(widget, w.Widget):
        raise TypeError(f"panel {name!r} returned {type(widget).__name__}, not a widget")
    return widget


def _what(panel: Panel) -> str:
    return panel.description if panel.factory else f"broken: {panel.error}"


def listing() -> w.HTML:
    """The installed panels as a table (what `%reconwb panels` shows)."""
    rows = "".join(
        f"<tr><td><code>{html.escape(p.name)}</code></td><td>{html.escape(p.source)}</td>"
        f"<td>{html.escape(p.target)}</td><td>{html.escape(_what(p))}</td></tr>"
        for p in discover().values()
    )
    return w.HTML(
        "<table class='reconwb-panels'><thead><tr><th>panel</th><th>from</th><th>target</th><th>what</th></tr>"
        f"</thead><tbody>{rows}</tbody></table><small>Show one with <code>%reconwb panel NAME</code>.</small>"
    )
