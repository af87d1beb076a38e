from __future__ import annotations

from reconwb.widgets.totals import TotalsPanel, frame_html
from reconwb.workspace import Workspace


def test_totals_panel_shows_each_state_and_exact_amounts(books: Workspace) -> None:
    panel = TotalsPanel(books)
    assert "<b>1</b> deposits matched" in panel.headline.value
    assert "<b>2</b> open" in panel.headline.value
    assert "12.34" in panel.deposits.value and "100.00" in panel.deposits.value
    assert "partially" not in panel.payments.value  # no partially paid payment in these books
    assert bytes(panel.trend_image.value)[:4] == b"\x89PNG" and bytes(panel.ageing_image.value)[:4] == b"\x89PNG"


def test_empty_store_says_so(ws: Workspace) -> None:
    panel = TotalsPanel(ws, plots_enabled=False)
    assert "no deposits yet" in panel.deposits.value


def test_frame_html_escapes_values() -> None:
    import polars as pl

    assert "&lt;script&gt;" in frame_html(pl.DataFrame({"a": ["<script>"]}))
