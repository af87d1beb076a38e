"""The sample files shipped in the package (reconwb/resources/samples; the demo imports them)."""

from __future__ import annotations

from decimal import Decimal

from reconwb import resources
from reconwb.statements import parse
from reconwb.statements.importer import import_file
from reconwb.workspace import Workspace

SAMPLES = resources.builtin_dir(resources.SAMPLES)


def test_camt_sample_parses_balanced_with_its_batch_split() -> None:
    fmt, (statement,) = parse(SAMPLES / "acme_2026-10.camt053.xml")
    lines = statement.lines
    assert fmt == "camt" and len(lines) == 9
    assert statement.balance_warning("x") is None
    batch = [t for t in lines if t.txn.bank_txn_id.startswith("ACME-BATCH-099")]
    # camt.053.001.02 details carry no credit/debit indicator of their own: they take the entry's (a credit)
    assert [t.txn.amount for t in batch] == [Decimal("640.00"), Decimal("210.50")]


def test_camt_sample_imports_once(ws: Workspace) -> None:
    with ws.connect() as con:
        first = import_file(con, SAMPLES / "acme_2026-10.camt053.xml", "acme-statements")
        again = import_file(con, SAMPLES / "acme_2026-10.camt053.xml", "acme-statements")
    assert (first.imported, again.imported, again.duplicates) == (9, 0, 9)
