"""Payer names as banks print them: legal forms, case, punctuation, word order, abbreviations, cuts, numbers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reconwb.matching.payers import payer_key, similarity
from tests.matching.helpers import links, pay, run, txn


@pytest.mark.parametrize(("printed", "invoiced"), [
    ("VANDELAY ACME STORES 1994", "Acme Stores Vandelay 1994 B.V."),
    ("OSCORP DUNDER BV 3076", "Oscorp Dunder B.V. 3076"),
    ("Globex Intl Mfg", "GLOBEX MANUFACTURING INTERNATIONAL GmbH"),
    ("WONKA & SONS LIMITED", "Wonka and Sons Ltd."),
    ("Initech, S.A.", "INITECH SA"),
    ("Stark Hldgs GmbH & Co. KG", "Stark Holdings"),
])
def test_the_same_payer_written_otherwise_has_one_key(printed: str, invoiced: str) -> None:
    frame = pl.DataFrame({"a": [printed], "b": [invoiced]})
    keys = frame.select(a=payer_key(pl.col("a")), b=payer_key(pl.col("b")))
    assert keys["a"][0] == keys["b"][0] != ""


def test_similarity_guards_numbers_and_accepts_a_bank_cut() -> None:
    frame = pl.DataFrame({
        "a": ["TYRELL UMBRELLA GM", "TYRELL LOGISTICS 4", "ACME STORES 1994", "ACME STORES 12", "Hooli Media"],
        "b": ["Tyrell Umbrella GmbH 3693", "Tyrell Logistics 4500 Srl", "Acme Stores 1995", "Acme Stores 1234",
              "Hooli Medai"],
    })
    sim = similarity(frame, "a", "b").to_list()
    assert sim[0] >= 0.95 and sim[1] >= 0.95  # cut at the bank's field width, number included
    assert sim[2] == 0.0 and sim[3] == 0.0  # different customer numbers are different customers
    assert 0.85 <= sim[4] < 1.0  # a typo in a name is close, not the same


def test_word_order_and_legal_form_do_not_stop_a_payer_match(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn("T1", "812.40", "2026-03-02", counterparty="ACME STORES, VANDELAY 1994"),
         txn("T2", "812.40", "2026-03-02", counterparty="VANDELAY ACME STORES 1995")],
        [pay("P1", "812.40", "2026-03-30", issued_on="2026-02-28", payer="Vandelay Acme Stores 1994 B.V."),
         pay("P2", "77.00", "2026-03-30", issued_on="2026-02-28", payer="Vandelay Acme Stores 1995 B.V.")],
    )
    assert links(rows) == {("T1", "P1")}  # T2's customer number is another payer's
