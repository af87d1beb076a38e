from __future__ import annotations

import polars as pl
import pytest
from IPython.core.interactiveshell import InteractiveShell

from reconwb.widgets import ConnectionStatusTable
from reconwb.workspace import Workspace


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "reconwb")
    return shell


def test_sql_magic_returns_a_polars_frame_and_stores_it(ip, ws: Workspace) -> None:
    result = ip.run_cell_magic("reconwb_sql", "banks_frame", "SELECT bank_id FROM banks WHERE bank_id = 'files'")
    assert isinstance(result, pl.DataFrame)
    assert ip.user_ns["banks_frame"]["bank_id"].to_list() == ["files"]


def test_sql_magic_is_read_only(ip, ws: Workspace) -> None:
    with pytest.raises(Exception, match="only SELECT"):
        ip.run_cell_magic("reconwb_sql", "", "DELETE FROM banks")


def test_status_magic_shows_the_table(ip, ws: Workspace) -> None:
    assert isinstance(ip.run_line_magic("reconwb", "status"), ConnectionStatusTable)
