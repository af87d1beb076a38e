"""Panel plugins: a package declares a `reconwb.panels` entry point; reconwb lists it and builds it.

The plugin here is a real installed-distribution layout (a `.dist-info` with `entry_points.txt` and a module) on
sys.path, which is exactly what `pip install` of a third-party package leaves behind.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import ipywidgets as w
import pytest
from IPython.core.interactiveshell import InteractiveShell

from reconwb.errors import NotFound
from reconwb.widgets import panels
from reconwb.widgets.explorer import ReconciliationExplorer
from reconwb.workspace import Workspace

PLUGIN = '''
"""An example panel package."""
import ipywidgets as w


def unmatched_count(ws):
    """How many deposits no match explains."""
    with ws.connect() as con:
        n = con.execute(
            "SELECT count(*) FROM transactions t WHERE amount > 0 AND txn_id NOT IN"
            " (SELECT txn_id FROM matches JOIN match_groups USING (group_id) WHERE status = 'matched')"
        ).fetchall()[0][0]
    return w.HTML(f"<b>{n}</b> unmatched deposits")
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    dist = site / "acme_panels-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-panels\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[reconwb.panels]\n"
        "unmatched_count = acme_panels:unmatched_count\n"
        "broken = acme_panels_missing:panel\n"
        "status = acme_panels:unmatched_count\n"  # may not replace a built-in
    )
    (site / "acme_panels.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("acme_panels", None)


def test_builtin_panels_are_listed_and_build(review: Workspace) -> None:
    found = panels.discover()
    assert {"status", "explorer", "totals", "banners", "add_connection", "plots"} <= set(found)
    assert all(p.source == "builtin" and p.factory for p in found.values())
    assert isinstance(panels.show("explorer", review, actor="maria"), ReconciliationExplorer)


def test_an_installed_plugin_panel_is_discovered_and_shows_store_data(review: Workspace, plugin: Path) -> None:
    found = panels.discover()
    mine = found["unmatched_count"]
    assert (mine.source, mine.target) == ("acme-panels", "acme_panels:unmatched_count")
    assert mine.description == "How many deposits no match explains."
    assert found["status"].source == "builtin"  # the plugin's "status" did not replace it
    assert found["broken"].factory is None and "acme_panels_missing" in found["broken"].error
    with review.connect() as con:
        unmatched = con.execute("SELECT count(*) FROM transactions WHERE amount > 0").fetchall()[0][0]
    assert panels.show("unmatched_count", review).value == f"<b>{unmatched}</b> unmatched deposits"
    with pytest.raises(NotFound, match="could not be loaded"):
        panels.show("broken", review)
    with pytest.raises(NotFound, match="no panel 'nope'"):
        panels.show("nope", review)


def test_magics_list_and_show_panels(review: Workspace, plugin: Path) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "reconwb")
    listing = ip.run_line_magic("reconwb", "panels")
    assert isinstance(listing, w.HTML)
    assert "<code>unmatched_count</code>" in listing.value and "acme-panels" in listing.value
    assert "broken:" in listing.value and "<code>explorer</code>" in listing.value
    shown = ip.run_line_magic("reconwb", "panel unmatched_count")
    assert "unmatched deposits" in shown.value
    with pytest.raises(ValueError, match="unknown %reconwb command"):
        ip.run_line_magic("reconwb", "pannels")
