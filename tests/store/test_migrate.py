"""Migrations on a store written by an earlier version: the data comes along, and what it meant is kept."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from reconwb.store import migrate


def _store_at(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A store built by the migrations up to `version`, as an older reconwb left it."""
    con = duckdb.connect(str(path))
    migrate.applied(con)
    for migration in migrate.available():
        if migration.version <= version:
            con.execute(migration.sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [migration.version, migration.name])
    return con


def test_match_fees_are_backfilled_for_automatic_one_to_one_matches(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "old.duckdb", 8)
    con.execute("""INSERT INTO payments (payment_id, amount, currency, status) VALUES
        ('CARD', 100.00, 'EUR', 'partially_paid'), ('SPLIT', 200.00, 'EUR', 'partially_paid'),
        ('BYHAND', 50.00, 'EUR', 'partially_paid'), ('EXACT', 10.00, 'EUR', 'paid')""")
    con.execute("""INSERT INTO match_groups (group_id, kind, rule, confidence, status) VALUES
        ('g1', 'one_to_one', 'reference-fee', 0.98, 'matched'), ('g2', 'split', 'partial-reference', 0.97, 'matched'),
        ('g3', 'one_to_one', 'manual', 1.0, 'matched'), ('g4', 'one_to_one', 'reference-exact', 0.99, 'matched')""")
    con.execute("""INSERT INTO matches (group_id, txn_id, payment_id, amount) VALUES
        ('g1', 1, 'CARD', 96.80), ('g2', 2, 'SPLIT', 150.00), ('g3', 3, 'BYHAND', 45.00), ('g4', 4, 'EXACT', 10.00)""")

    assert 9 in migrate.migrate(con)

    fees = dict(con.execute("SELECT payment_id, fee FROM matches").fetchall())
    assert fees == {"CARD": Decimal("3.20"), "SPLIT": 0, "BYHAND": 0, "EXACT": 0}
    status = dict(con.execute("SELECT payment_id, status FROM payments").fetchall())
    assert status == {"CARD": "paid", "SPLIT": "partially_paid", "BYHAND": "partially_paid", "EXACT": "paid"}
    con.execute("INSERT INTO matches (group_id, txn_id, payment_id, amount) VALUES ('g5', 5, 'SPLIT', 50.00)")
    assert con.execute("SELECT fee FROM matches WHERE group_id = 'g5'").fetchall() == [(Decimal("0.00"),)]


def test_money_columns_widen_to_three_decimals_and_keep_every_value(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "old.duckdb", 13)  # a store as the version before 0014 left it
    con.execute("""INSERT INTO transactions (txn_id, account_id, dedupe_key, booked_on, amount, currency, source,
        charges) VALUES (1, 1, 'id:a', DATE '2026-01-02', -0.05, 'EUR', 'statement', 1.20),
        (2, 1, 'id:b', DATE '2026-01-03', 999999999999999.99, 'EUR', 'statement', NULL)""")
    con.execute("INSERT INTO payments (payment_id, amount, currency) VALUES ('P1', 12.34, 'EUR')")
    con.execute("INSERT INTO match_groups (group_id, kind, rule, confidence, status) VALUES"
                " ('g1', 'one_to_one', 'manual', 1.0, 'matched')")
    con.execute("INSERT INTO matches (group_id, txn_id, payment_id, amount, fee) VALUES ('g1', 1, 'P1', 12.30, 0.04)")

    assert 14 in migrate.migrate(con)

    types = dict(con.execute("SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                             " WHERE column_name IN ('amount', 'charges', 'fee')"
                             " AND table_name IN ('transactions', 'payments', 'matches')").fetchall())
    assert set(types.values()) == {"DECIMAL(18,3)"}, types
    assert len(types) == 5
    assert con.execute("SELECT amount, charges FROM transactions ORDER BY txn_id").fetchall() == [
        (Decimal("-0.05"), Decimal("1.20")), (Decimal("999999999999999.99"), None)]
    assert con.execute("SELECT amount, fee FROM matches").fetchall() == [(Decimal("12.30"), Decimal("0.04"))]
    # a three-decimal amount is kept as it is (the keys and indexes of these tables went with 0023: see below)
    con.execute("INSERT INTO payments (payment_id, amount, currency) VALUES ('KW', 1.235, 'KWD')")
    assert con.execute("SELECT amount FROM payments WHERE payment_id = 'KW'").fetchall() == [(Decimal("1.235"),)]


def test_payments_lose_their_key_index_and_keep_every_row_default_and_not_null(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "old.duckdb", 15)
    con.execute("""INSERT INTO payments (payment_id, amount, currency, issued_on, reference, payer, status, source,
        source_ref) VALUES ('P1', 1.235, 'KWD', DATE '2026-01-02', 'INV 1', 'Acme', 'paid', 'endpoint', 'https://x'),
        ('P2', 10, 'EUR', NULL, NULL, NULL, 'open', 'file', NULL)""")
    before = con.execute("SELECT * FROM payments ORDER BY payment_id").fetchall()

    assert 18 in migrate.migrate(con)

    # 0022 adds import_run (NULL: no chunked import)
    assert con.execute("SELECT * EXCLUDE (import_run) FROM payments ORDER BY payment_id").fetchall() == before
    assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'payments'"
                       " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchall() == [(0,)]
    con.execute("INSERT INTO payments (payment_id, amount, currency) VALUES ('P3', 5, 'EUR')")
    assert con.execute("SELECT status, source, created_at IS NOT NULL, updated_at IS NOT NULL FROM payments"
                       " WHERE payment_id = 'P3'").fetchall() == [("open", "file", True, True)]
    for column in ("payment_id", "amount", "currency", "status"):
        try:
            con.execute(f"UPDATE payments SET {column} = NULL WHERE payment_id = 'P3'")
            raise AssertionError(f"{column} may be NULL")
        except duckdb.ConstraintException:
            pass


def test_payments_staged_by_status_keep_hidden_by_their_run(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "old.duckdb", 19)  # a chunked payments import killed mid-way, as 0019 staged it
    con.execute("INSERT INTO payment_import_runs (run_id, file_name, rows_total, host, pid) VALUES"
                " ('pim_1', 'p.csv', 2, 'h', 1)")
    con.execute("INSERT INTO payments (payment_id, amount, currency, status) VALUES"
                " ('KNOWN', 1.00, 'EUR', 'paid'), ('NEW', 2.00, 'EUR', 'staged:pim_1')")

    assert 22 in migrate.migrate(con)

    rows = con.execute("SELECT payment_id, status, import_run FROM payments ORDER BY 1").fetchall()
    assert rows == [("KNOWN", "paid", None), ("NEW", "open", "pim_1")]
    from reconwb.payments import visible
    assert con.execute(f"SELECT payment_id FROM payments p WHERE {visible('p')}").fetchall() == [("KNOWN",)]


def test_big_tables_lose_their_keys_and_indexes_and_keep_every_row_default_and_not_null(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "old.duckdb", 22)
    con.execute("INSERT INTO transactions (account_id, dedupe_key, booked_on, amount, currency, source) VALUES"
                " (1, 'id:a', DATE '2026-01-02', 1.5, 'EUR', 'statement'), (1, 'id:b', DATE '2026-01-03', 2, 'EUR',"
                " 'statement')")
    con.execute("INSERT INTO match_groups (group_id, kind, rule, confidence, status) VALUES"
                " ('g1', 'one_to_one', 'manual', 1.0, 'matched')")
    con.execute("INSERT INTO matches (group_id, txn_id, payment_id, amount) VALUES ('g1', 1, 'P1', 1.5)")
    con.execute("INSERT INTO events (event_id, type, payload) VALUES ('evt_1', 'payment.matched', '{}')")
    con.execute("INSERT INTO audit_log (actor, action) VALUES ('user', 'match.manual')")
    tables = ("transactions", "events", "match_groups", "matches", "audit_log")
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}

    assert 23 in migrate.migrate(con)

    assert {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables} == before
    assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ?"
                       " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')", [list(tables)]).fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM duckdb_indexes() WHERE table_name IN ?", [list(tables)]).fetchall() \
        == [(0,)]
    # the sequences and defaults still number and stamp new rows, and NOT NULL still holds
    con.execute("INSERT INTO transactions (account_id, dedupe_key, booked_on, amount, currency, source) VALUES"
                " (1, 'id:c', DATE '2026-01-04', 3, 'EUR', 'statement')")
    assert con.execute("SELECT txn_id, status, created_at IS NOT NULL FROM transactions WHERE dedupe_key = 'id:c'"
                       ).fetchall() == [(3, "booked", True)]
    con.execute("INSERT INTO audit_log (actor, action) VALUES ('user', 'x')")
    assert con.execute("SELECT max(audit_id) FROM audit_log").fetchall() == [(2,)]
    for table, column in (("transactions", "dedupe_key"), ("matches", "payment_id"), ("events", "payload"),
                          ("match_groups", "status"), ("audit_log", "actor")):
        try:
            con.execute(f"UPDATE {table} SET {column} = NULL")
            raise AssertionError(f"{table}.{column} may be NULL")
        except duckdb.ConstraintException:
            pass
