from __future__ import annotations

import pytest

from reconwb.errors import InvalidInput
from reconwb.store.readonly import query
from reconwb.workspace import Workspace


def test_select_returns_a_polars_frame(ws: Workspace) -> None:
    frame = query(ws, "SELECT bank_id, name FROM banks ORDER BY bank_id")
    assert frame.columns == ["bank_id", "name"]
    assert "files" in frame["bank_id"].to_list()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM banks",
        "UPDATE banks SET name = 'x'",
        "DROP TABLE banks",
        "SELECT 1; DELETE FROM banks",
        "COPY banks TO '/tmp/banks.csv'",
    ],
)
def test_anything_but_select_is_refused_and_changes_nothing(ws: Workspace, sql: str) -> None:
    before = query(ws, "SELECT count(*) AS n FROM banks")["n"][0]
    with pytest.raises(InvalidInput):
        query(ws, sql)
    assert query(ws, "SELECT count(*) AS n FROM banks")["n"][0] == before


def test_bad_sql_is_a_clear_error(ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="does not parse|failed"):
        query(ws, "SELEC nothing")
