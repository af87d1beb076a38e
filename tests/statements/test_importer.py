"""Importing statement files into the store: idempotent, overlap-safe, all or nothing."""

from __future__ import annotations

import csv as stdcsv
from decimal import Decimal as D
from pathlib import Path

import pytest

from reconwb import banks, connections, transactions
from reconwb.errors import Conflict
from reconwb.statements import StatementError
from reconwb.statements.importer import import_file
from reconwb.workspace import Workspace
from tests.statements.conftest import DATA, FIXTURES
from tests.statements.test_camt import document, entry

HEADER = "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty\n"


def _import(ws: Workspace, path: Path, connection: str = "bank-files", **kw):
    with ws.connect() as con:
        return import_file(con, path, connection, **kw)


def _rows(ws: Workspace) -> list[tuple]:
    with ws.connect() as con:
        return con.execute("SELECT a.external_ref, t.booked_on, t.amount, t.status, t.bank_txn_id, t.charges"
                           " FROM transactions t JOIN accounts a USING (account_id) ORDER BY t.txn_id").fetchall()


def test_creates_statement_connection_and_is_idempotent(ws: Workspace) -> None:
    path = FIXTURES / "camt" / "camt053_postfinance_2016.xml"
    first = _import(ws, path)
    assert (first.imported, first.duplicates, first.updated, first.warnings) == (32, 0, 0, [])
    again = _import(ws, path)
    assert (again.imported, again.duplicates) == (0, 32)
    with ws.connect() as con:
        conn = connections.get(con, "bank-files")
        assert (conn.bank_id, conn.connector, conn.health) == (banks.STATEMENT_BANK, "statement", "ok")
        assert conn.last_success_at is not None
        (imports,) = con.execute("SELECT count(*) FROM statement_imports").fetchone()
    assert imports == 2
    rows = _rows(ws)
    assert len(rows) == 32
    assert {r[0] for r in rows} == {"CH0309000000250090342"}
    assert sum(r[5] or 0 for r in rows) > 0  # CAMT charges are stored with their lines


def test_removed_connection_takes_no_imports(ws: Workspace) -> None:
    path = FIXTURES / "camt" / "camt054_batch_booking.xml"
    _import(ws, path, connection="old")
    with ws.connect() as con:
        connections.remove(con, "old")
    with pytest.raises(Conflict, match="was removed"):
        _import(ws, path, connection="old")


def test_mt940_without_bank_ids_is_idempotent_too(ws: Workspace) -> None:
    path = FIXTURES / "mt940" / "jejik" / "ing.sta"  # NONREF everywhere: identity by content fingerprint
    assert _import(ws, path).imported == 7
    assert _import(ws, path).imported == 0
    assert len(_rows(ws)) == 7


def test_balance_mismatch_is_a_warning_not_an_error(ws: Workspace) -> None:
    result = _import(ws, FIXTURES / "mt940" / "jejik" / "abnamro.sta")
    assert result.imported == 10
    assert len(result.warnings) == 2 and all("abnamro.sta" in w for w in result.warnings)


def test_overlapping_statements_add_only_new_lines(ws: Workspace, tmp_path: Path) -> None:
    # entries without bank ids: the overlap must be found by content
    days = {d: entry(f"{d}.00", day=f"2026-03-0{d}", ref="").replace("<AcctSvcrRef></AcctSvcrRef>", "")
            for d in range(1, 6)}
    week1 = tmp_path / "week1.xml"
    week1.write_bytes(document("".join(days[d] for d in (1, 2, 3))))
    week2 = tmp_path / "week2.xml"
    week2.write_bytes(document("".join(days[d] for d in (2, 3, 4, 5))))
    assert _import(ws, week1).imported == 3
    second = _import(ws, week2)
    assert (second.imported, second.duplicates) == (2, 2)
    assert sorted(r[2] for r in _rows(ws)) == [D("1.00"), D("2.00"), D("3.00"), D("4.00"), D("5.00")]


def test_pending_line_is_updated_when_booked(ws: Workspace, tmp_path: Path) -> None:
    pending = tmp_path / "intraday.xml"
    pending.write_bytes(document(entry("75.00", ref="N-1", status="<Sts>PDNG</Sts>"), kind="052"))
    booked = tmp_path / "eod.xml"
    booked.write_bytes(document(entry("75.00", ref="N-1", day="2026-03-03")))
    assert _import(ws, pending).imported == 1
    result = _import(ws, booked)
    assert (result.imported, result.updated) == (0, 1)
    [row] = _rows(ws)
    assert (row[3], str(row[1])) == ("booked", "2026-03-03")


def test_pending_csv_line_booked_under_a_bank_id(ws: Workspace, tmp_path: Path) -> None:
    header = "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty,status\n"
    first = tmp_path / "pending.csv"
    first.write_text(header + ",ACC,2026-03-02,-20.00,EUR,card Shop,INV-9,Shop,pending\n")
    second = tmp_path / "booked.csv"
    second.write_text(header + "BK-9,ACC,2026-03-04,-20.00,EUR,card Shop,INV-9,Shop,booked\n")
    _import(ws, first)
    assert _import(ws, second).updated == 1
    [row] = _rows(ws)
    assert (row[3], row[4]) == ("booked", "BK-9")


def test_a_bad_line_stores_nothing(ws: Workspace, tmp_path: Path) -> None:
    good = "".join(f"B{i},ACC,2026-03-02,{i}.00,EUR,x,,\n" for i in range(5000))
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + good + "B9999,ACC,2026-13-45,1.00,EUR,x,,\n")
    with pytest.raises(StatementError, match=r"bad\.csv:5002: bad booked_on"):
        _import(ws, path, connection="new-conn")
    with ws.connect() as con:
        assert connections.get(con, "new-conn", missing_ok=True) is None
    assert _rows(ws) == []


def test_failure_inside_the_store_rolls_back_everything(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    """A failure after some rows went in (here: the import record) leaves no trace of the file."""
    from reconwb.statements import importer

    monkeypatch.setattr(importer, "_sha256", lambda p: None)  # NOT NULL column: the last insert fails
    with pytest.raises(Exception):  # noqa: B017
        _import(ws, FIXTURES / "camt" / "camt053_business_sample.xml", connection="atomic")
    with ws.connect() as con:
        assert connections.get(con, "atomic", missing_ok=True) is None
    assert _rows(ws) == []


def test_export_writes_transactions_csv_that_reimports_as_duplicates(ws: Workspace, tmp_path: Path) -> None:
    _import(ws, FIXTURES / "mt940" / "jejik" / "abnamro.sta", connection="abn")
    _import(ws, DATA / "checking_v102.ofx", connection="ofx")
    out = tmp_path / "export.csv"
    with ws.connect() as con:
        conn = connections.get(con, "ofx")
        assert transactions.export_csv(con, str(out), connection_id=conn.connection_id) == 3
    with out.open(newline="") as fh:
        rows = list(stdcsv.DictReader(fh))
    assert list(rows[0]) == HEADER.strip().split(",")
    assert [(r["txn_id"], r["account_id"], r["amount"]) for r in rows] == [
        ("2026030201", "4000123456", "1250.00"), ("2026030302", "4000123456", "-42.37"),
        ("2026030403", "4000123456", "-300.00")]
    with ws.connect() as con:
        transactions.export_csv(con, str(out))
    again = _import(ws, out, connection="abn")
    # the abn lines have no bank id: their exported fingerprint ids must still match
    assert (again.imported, again.duplicates) == (3, 10)  # the 3 OFX lines are new to connection "abn"


def test_three_decimal_money_is_stored_exactly_and_a_rounding_file_stores_nothing(ws: Workspace,
                                                                                   tmp_path: Path) -> None:
    from tests.statements.test_mt940_lenient import KWD

    good = tmp_path / "kw.sta"
    good.write_text(KWD)
    assert _import(ws, good).imported == 2
    assert [r[2] for r in _rows(ws)] == [D("1.235"), D("-0.005")]
    export = tmp_path / "out.csv"
    with ws.connect() as con:
        transactions.export_csv(con, str(export))
    amounts = [row["amount"] for row in stdcsv.DictReader(export.open())]
    assert amounts == ["1.235", "-0.005"]  # exact both ways, never 1.24
    bad = tmp_path / "eur.sta"
    bad.write_text(KWD.replace(":20:KW-1", ":20:EU-1").replace("KWD", "EUR").replace("1,235", "1,230"))
    with pytest.raises(StatementError, match=r"eur\.sta:6: :61: amount: 0\.005 has more decimals than EUR"):
        _import(ws, bad, connection="other")
    assert len(_rows(ws)) == 2
    with ws.connect() as con:
        assert connections.get(con, "other", missing_ok=True) is None


# -- big files: written in chunks behind a marker ----------------------------------------------------------------

BIG = 3000  # lines; with 250-line chunks about a dozen short transactions


def _big_csv(path: Path, lines: int = BIG) -> Path:
    """Two accounts, half the lines with a bank id, and identical lines far apart (occurrence numbers that
    must not restart at a chunk's edge)."""
    with path.open("w") as fh:
        fh.write(HEADER)
        for i in range(lines):
            same = i % 500 == 7  # the same line every 500 lines
            bank_id = f"B{i}" if i % 2 == 0 and not same else ""
            day = 1 + (0 if same else i % 28)
            amount = "12.50" if same else f"{(i * 37) % 5000 - 1500}.{i % 100:02d}"
            text = "standing order" if same else f"payment {i}"
            fh.write(f"{bank_id},CH93 0076 2011 6238 5295 {i % 2},2024-03-{day:02d},{amount},CHF,{text},"
                     f"{'' if same else f'RF{i}'},{'Landlord' if same else f'Customer {i % 40}'}\n")
    return path


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconwb.statements import importer
    from reconwb.store import chunks
    monkeypatch.setattr(importer, "IN_ONE_TRANSACTION", 100)
    for name, value in {"FIRST_CHUNK_ROWS": 250, "MIN_CHUNK_ROWS": 250, "MAX_CHUNK_ROWS": 250}.items():
        monkeypatch.setattr(chunks, name, value)


def _import_chunked(ws: Workspace, path: Path, connection: str = "bank-files"):
    from reconwb.statements import parse
    from reconwb.statements.importer import import_into
    fmt, statements = parse(path)
    return import_into(ws, statements, connection, file=path, fmt=fmt)


def _stored(ws: Workspace) -> list[tuple]:
    with ws.connect() as con:
        return con.execute("SELECT a.external_ref, t.dedupe_key, t.booked_on, t.amount, t.status, t.description"
                           " FROM transactions t JOIN accounts a USING (account_id) ORDER BY 1, 2").fetchall()


def test_a_big_file_written_in_chunks_stores_what_one_transaction_stores(
        ws: Workspace, tmp_path: Path, small_chunks: None) -> None:
    from reconwb.store import db
    path = _big_csv(tmp_path / "big.csv")
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    one = _import(whole, path)
    db.reset_hold_stats()
    chunked = _import_chunked(ws, path)
    assert db.hold_stats().opens >= BIG // 250  # one short transaction a chunk
    assert (chunked.imported, chunked.duplicates, chunked.updated) == (one.imported, one.duplicates, one.updated)
    assert chunked.imported == BIG
    assert _stored(ws) == _stored(whole)
    again = _import_chunked(ws, path)
    assert (again.imported, again.duplicates) == (0, BIG)
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM transactions t WHERE NOT " + transactions.visible()).fetchone() == (0,)
        assert con.execute("SELECT outcome, rows_done FROM statement_import_runs").fetchall() == [
            ("imported", BIG), ("imported", BIG)]
        assert con.execute("SELECT count(*), sum(imported) FROM statement_imports").fetchone() == (2, BIG)


@pytest.mark.parametrize("mode", ["reconcile", "passthrough"])
def test_a_big_file_written_in_chunks_queues_or_announces_what_one_transaction_does(
        ws: Workspace, tmp_path: Path, small_chunks: None, mode: str) -> None:
    # the reveal queues the run's booked deposits for the automatic reconcile (reconcile mode) or announces every
    # new line (passthrough) at once, as the one-transaction import does line by line; withdrawals are not queued
    from reconwb import settings
    path = _big_csv(tmp_path / "big.csv")
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    told = []
    for target, load in ((whole, _import), (ws, _import_chunked)):
        with target.connect() as con:
            settings.set_value(con, "operation_mode", mode)
            settings.set_value(con, "auto_reconcile", "true")
        load(target, path)
        with target.connect() as con:
            queued = con.execute("SELECT t.dedupe_key FROM reconcile_queue q JOIN transactions t USING (txn_id)"
                                 " ORDER BY 1").fetchall()
            announced = con.execute("SELECT payload->>'amount', payload->>'booked_on' FROM events"
                                    " WHERE type = 'transaction.created' ORDER BY 1, 2").fetchall()
        told.append((queued, announced))
    assert told[1] == told[0]
    queued, announced = told[0]
    if mode == "reconcile":
        assert not announced and 0 < len(queued) < BIG  # the deposits only
    else:
        assert not queued and len(announced) == BIG


KILLABLE_IMPORT = """
from reconwb.statements import importer, parse
from reconwb.workspace import Workspace
importer.IN_ONE_TRANSACTION = 100
chunks.FIRST_CHUNK_ROWS = chunks.MIN_CHUNK_ROWS = chunks.MAX_CHUNK_ROWS = 250
file = Path(sys.argv[2])
fmt, statements = parse(file)
importer.import_into(Workspace(db_path=Path(sys.argv[1])), statements, "bank-files", file=file, fmt=fmt)
"""


def test_an_import_killed_mid_way_is_invisible_and_the_next_import_gives_exactly_the_whole_file(
        ws: Workspace, tmp_path: Path, small_chunks: None) -> None:
    from reconwb import reports
    from reconwb.matching import queries, reconcile_store
    from tests.store.sharing import kill_between_chunks

    path = _big_csv(tmp_path / "big.csv")
    kill_between_chunks("from pathlib import Path\n" + KILLABLE_IMPORT, str(ws.db_path), str(path), at=4)
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM transactions").fetchone()[0] >= 750  # hidden lines are there
        assert con.execute("SELECT count(*) FROM transactions t WHERE " + transactions.visible()).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM statement_imports").fetchone() == (0,)
    # reports, listings and matching see none of the half-written file
    assert sum(reports.headline(ws)[k] for k in ("deposits_unmatched", "deposits_pending")) == 0
    assert reports.deposit_totals(ws).is_empty()
    assert queries.open_items(ws, "transactions").is_empty()
    assert reconcile_store(ws).links == 0
    staging = tmp_path / "data" / "reconwb.duckdb.staging"
    assert not any(staging.glob("*"))  # the run's lines were sliced from memory: nothing to clean up on disk

    again = _import_chunked(ws, path)  # undoes the killed run, then imports the file whole
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    one = _import(whole, path)
    assert (again.imported, again.duplicates) == (one.imported, one.duplicates) == (BIG, 0)
    assert _stored(ws) == _stored(whole)
    with ws.connect() as con:
        assert sorted(con.execute("SELECT outcome FROM statement_import_runs").fetchall()) == [
            ("imported",), ("undone",)]
    assert not any(staging.glob("*"))


def _keys(ws: Workspace) -> tuple[int, int, int]:
    """Lines stored, distinct (account, key) among them, and lines still hidden."""
    with ws.connect() as con:
        return con.execute("SELECT count(*), count(DISTINCT (account_id, dedupe_key)),"
                           " count(*) FILTER (WHERE NOT " + transactions.visible() + ") FROM transactions t"
                           ).fetchone()


def test_two_processes_importing_one_big_file_at_once_store_each_line_once(ws: Workspace, tmp_path: Path) -> None:
    # no index keeps (account, key) unique (migration 0023): the two imports' chunks interleave through the
    # file lock and each inserts only the keys the store does not hold
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = _big_csv(tmp_path / "big.csv")
    code = "import sys\nfrom pathlib import Path\nfrom reconwb.store import chunks\n" + KILLABLE_IMPORT
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws.db_path), str(path)], stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert _keys(ws) == (BIG, BIG, 0)
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    _import(whole, path)
    assert _stored(ws) == _stored(whole)


def test_threads_of_one_process_ingesting_the_same_lines_at_once_store_them_once(ws: Workspace,
                                                                                 tmp_path: Path) -> None:
    import threading

    from reconwb.statements import parse
    from reconwb.store.db import in_transaction

    _import(ws, _big_csv(tmp_path / "first.csv", 10))  # the connection and its two accounts
    with ws.connect() as con:
        accounts = dict(con.execute("SELECT external_ref, account_id FROM accounts").fetchall())
    _fmt, statements = parse(_big_csv(tmp_path / "big.csv", 400))
    frame = statements[0].frame()
    parts = frame.partition_by("account_ref", as_dict=True)
    lines = [(accounts[ref], part.drop("account_ref")) for (ref,), part in parts.items()]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def ingest_all() -> None:
        try:
            start.wait()
            for account, part in lines:
                in_transaction(ws.connect, lambda con, a=account, p=part: transactions.ingest(
                    con, a, p, source="statement", source_ref="big.csv"))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=ingest_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _keys(ws) == (400, 400, 0)  # the first 10 lines were there already
