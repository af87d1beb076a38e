"""Candidate search for one-edit references: which deposit and invoice are worth scoring for a typo."""

from __future__ import annotations

import polars as pl

from reconwb.matching import candidates, rules
from reconwb.matching.frames import prepare_payments, prepare_transactions

EMPTY = pl.DataFrame(schema={"t": pl.UInt32})
EMPTY_P = pl.DataFrame(schema={"p": pl.UInt32})


def _typos(references: list[str], invoice_refs: list[str], *, cents: list[int] | None = None,
           currencies: list[str] | None = None, fit: bool = False) -> set[tuple[int, int]]:
    ruleset = rules.load(None)
    n = len(references)
    txns = prepare_transactions(pl.DataFrame({
        "reference": references, "cents": cents or [1000] * n, "currency": currencies or ["EUR"] * n,
    }), ruleset)
    payments = prepare_payments(pl.DataFrame({
        "reference": invoice_refs, "cents": [1000] * len(invoice_refs), "currency": ["EUR"] * len(invoice_refs),
    }))
    pairs = candidates.typo_pairs(txns, payments, EMPTY, EMPTY_P, ruleset, fit=fit)
    return set(pairs.select("t", "p").iter_rows())


def test_a_substitution_a_swap_and_a_dropped_separator_are_found_and_unrelated_numbers_are_not() -> None:
    found = _typos(["INV-0008060", "INV-0000006", "INV0000060", "INV-1234567"], ["INV-0000060"])
    # one digit changed; two digits swapped; the dash dropped is the same after normalising (an exact hit is
    # also one edit from itself); seven digits apart
    assert found == {(0, 0), (1, 0), (2, 0)}


def test_another_currency_or_an_amount_the_invoice_cannot_arrive_as_is_no_typo_candidate() -> None:
    assert _typos(["INV-0008060"], ["INV-0000060"], currencies=["USD"]) == set()
    assert _typos(["INV-0008060"], ["INV-0000060"], cents=[999], fit=True) == set()
    assert _typos(["INV-0008060"], ["INV-0000060"], cents=[1000], fit=True) == {(0, 0)}
