"""Small read-only HTML tables for the dashboards: human headers, numbers right-aligned, text that wraps.

Panels hand in cells already written for people (through `reconwb.formatting`), so a table never shows a raw
column name, a float or a Python `None`. The page is 1280 px wide at most: cells wrap instead of running off the
right edge.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STYLE = ("<style>.reconwb-table{border-collapse:collapse;width:100%;table-layout:auto;font-size:0.92em}"
         ".reconwb-table th{text-align:left;border-bottom:2px solid #d0d7de;padding:3px 8px;white-space:normal}"
         ".reconwb-table td{padding:3px 8px;border-bottom:1px solid #eaeef2;overflow-wrap:anywhere}"
         ".reconwb-table td.num,.reconwb-table th.num{text-align:right;white-space:nowrap}"
         ".reconwb-table tfoot td{font-weight:bold;border-top:2px solid #d0d7de}</style>")


@dataclass(frozen=True)
class Column:
    """A column: its header as people say it, and whether it holds numbers (right-aligned, never wrapped)."""

    header: str
    numeric: bool = False


def _cell(tag: str, value: object, numeric: bool) -> str:
    text = "" if value is None else str(value)
    cls = " class='num'" if numeric else ""
    return f"<{tag}{cls}>{html.escape(text)}</{tag}>"


def _rows(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> str:
    return "".join("<tr>" + "".join(_cell("td", v, c.numeric) for c, v in zip(columns, row, strict=True)) + "</tr>"
                   for row in rows)


def table_html(columns: Sequence[Column], rows: Sequence[Sequence[object]], *, foot: Sequence[Sequence[object]] = (),
               empty: str = "nothing yet", css_class: str = "") -> str:
    """The rows as an HTML table (every value escaped; `None` shows as a blank), or `empty` in italics (nothing
    when `empty` is blank: a verdict above already said so)."""
    if not rows:
        return f"<i>{html.escape(empty)}</i>" if empty else ""
    head = "".join(_cell("th", c.header, c.numeric) for c in columns)
    tail = f"<tfoot>{_rows(columns, foot)}</tfoot>" if foot else ""
    return (f"{STYLE}<table class='reconwb-table {css_class}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{_rows(columns, rows)}</tbody>{tail}</table>")
