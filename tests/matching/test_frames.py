"""frames.beside: a link gets the columns of the row its number names, whichever way they are found."""

from __future__ import annotations

import polars as pl

from reconwb.matching.frames import beside


def test_links_get_their_rows_columns_by_row_number() -> None:
    payments = pl.DataFrame({"payment_id": ["P-1", "P-2", "P-3"]}).with_row_index("p")
    links = pl.DataFrame({"p": [2, 0, 2]}, schema={"p": pl.UInt32})
    assert beside(links, payments, "p", payment_id="payment_id")["payment_id"].to_list() == ["P-3", "P-1", "P-3"]


def test_a_frame_that_is_not_its_row_numbers_in_order_is_joined() -> None:
    payments = pl.DataFrame({"p": [7, 3], "payment_id": ["P-7", "P-3"]},
                            schema={"p": pl.UInt32, "payment_id": pl.String})
    links = pl.DataFrame({"p": [3, 7, 9]}, schema={"p": pl.UInt32})
    assert beside(links, payments, "p", payment_id="payment_id")["payment_id"].to_list() == ["P-3", "P-7", None]


def test_a_row_number_outside_the_frame_finds_nothing_rather_than_another_row() -> None:
    payments = pl.DataFrame({"payment_id": ["P-1", "P-2", "P-3"]}).with_row_index("p").with_columns(
        pl.col("p").cast(pl.Int64))
    links = pl.DataFrame({"p": [-1, 1, 2]}, schema={"p": pl.Int64})
    assert beside(links, payments, "p", payment_id="payment_id")["payment_id"].to_list() == [None, "P-2", "P-3"]

