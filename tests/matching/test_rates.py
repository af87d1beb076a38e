"""Exchange rates: both file layouts, exact conversion, and deposits paying invoices in another currency."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from reconwb.errors import InvalidInput
from reconwb.matching import rates
from tests.matching.helpers import links, pay, run, txn

ECB = """Date,USD,JPY,GBP,
2026-03-10,1.0850,161.20,0.85200,
2026-03-09,1.0800,N/A,0.85000,
"""


def test_ecb_and_simple_layouts_read_to_the_same_rates(tmp_path: Path) -> None:
    (tmp_path / "ecb.csv").write_text(ECB)
    (tmp_path / "simple.csv").write_text("date,base,quote,rate\n2026-03-10,EUR,USD,1.085\n"
                                         "2026-03-10,eur,gbp,0.852\n2026-03-09,EUR,USD,1.08\n2026-03-09,EUR,GBP,0.85\n")
    ecb = rates.read_file(tmp_path / "ecb.csv")
    simple = rates.read_file(tmp_path / "simple.csv")
    assert ecb.filter(pl.col("quote").is_in(["USD", "GBP"])).rows() == simple.rows()
    assert ecb.filter(pl.col("quote") == "JPY").rows() == [(dt.date(2026, 3, 10), "EUR", "JPY", 16_120_000_000)]


@pytest.mark.parametrize(("text", "message"), [
    ("date,base,quote,rate\n2026-03-10,EUR,USD,1.085x\n", "line 2: rate '1.085x'"),
    ("date,base,quote,rate\n2026-03-10,EUR,USD,1,085\n", "cannot read"),
    ("date,base,quote,rate\n2026-03-10,EUR,USD,-1.0\n", "not a positive decimal"),
    ("date,base,quote,rate\n2026-03-10,EUR,EUR,1.0\n", "both EUR"),
    ("date,base,quote,rate\n2026-13-10,EUR,USD,1.0\n", "date"),
    ("date,base,quote,rate\n2026-03-10,EURO,USD,1.0\n", "not a currency code"),
    ("when,what\n1,2\n", "expected columns"),
])
def test_bad_rate_files_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        rates.read_file(tmp_path / "r.csv")


def test_conversion_is_exact_and_uses_the_latest_rate_within_its_age() -> None:
    table = pl.DataFrame({"day": [dt.date(2026, 3, 2), dt.date(2026, 3, 9)], "base": ["EUR"] * 2,
                          "quote": ["USD"] * 2, "rate_e8": [108_000_000, 108_500_000]})
    txns = pl.DataFrame({"t": [0, 1, 2], "booked_on": [dt.date(2026, 3, 10), dt.date(2026, 3, 5),
                                                       dt.date(2026, 3, 20)],
                         "currency": ["USD"] * 3, "cents": [108_500_000_000_000, 10_801, 500]},
                        schema_overrides={"t": pl.UInt32})
    out = rates.convert(txns, table, max_age_days=5).sort("t")
    # 1,085,000,000,000.00 USD at 1.085 is exactly 1,000,000,000,000.00 EUR (no float drift on large sums)
    assert out.rows() == [(0, "EUR", 100_000_000_000_000, 92_165_899), (1, "EUR", 10_001, 92_592_593)]
    # the 2026-03-20 deposit has no rate within 5 days: no conversion rather than a stale one


def _fx_files(tmp_path: Path) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text("date,base,quote,rate\n2026-03-09,EUR,USD,1.0850\n")
    return path


def test_a_deposit_in_another_currency_pays_its_invoice_at_the_day_rate(tmp_path: Path) -> None:
    from reconwb.matching import reconcile_files
    from tests.matching.helpers import PAY_HEADER, TXN_HEADER, write_csv

    t = write_csv(tmp_path / "t.csv", TXN_HEADER, [
        txn("T1", "1080.66", "2026-03-10", reference="RE-2026-000451", currency="USD"),  # 996.00 EUR, 0.4 % spread
        txn("T2", "542.50", "2026-03-10", counterparty="INITECH 12", currency="USD"),  # 500.00 EUR, no reference
        txn("T3", "1040.00", "2026-03-10", reference="RE-2026-000453", currency="USD"),  # 958.53: 4 % short
    ])
    p = write_csv(tmp_path / "p.csv", PAY_HEADER, [
        pay("P1", "1000.00", "2026-03-31", issued_on="2026-03-01", reference="RE-2026-000451", payer="Globex 1"),
        pay("P2", "500.00", "2026-03-31", issued_on="2026-03-01", reference="RE-2026-000452", payer="Initech 12 Ltd"),
        pay("P3", "1000.00", "2026-03-31", issued_on="2026-03-01", reference="RE-2026-000453", payer="Hooli 3"),
    ])
    report = reconcile_files(t, p, tmp_path / "m.csv", rates=_fx_files(tmp_path))
    out = pl.read_csv(tmp_path / "m.csv", infer_schema=False)
    assert out.select("txn_id", "payment_id", "rule").rows() == [("T1", "P1", "reference-fx"),
                                                                 ("T2", "P2", "payer-fx")]
    assert out["explanation"][0] == ("reference RE-2026-000451 quoted, 1080.66 USD converted at 0.92165899"
                                     " (4.00 EUR FX difference), paid 9 days after issue")
    assert report.by_rule == {"payer-fx": 1, "reference-fx": 1}
    # without rates, no conversion and no match across currencies
    reconcile_files(t, p, tmp_path / "m2.csv")
    assert pl.read_csv(tmp_path / "m2.csv").height == 0


def test_fx_tolerance_comes_from_the_rules_file(tmp_path: Path) -> None:
    text = """
version = "fx-wide"
[fx]
tolerance_pct = "5"
[[rule]]
name = "ref-fx"
reference = "extracted"
amount = { fx = true }
"""
    rows, _ = run(tmp_path, [txn("T3", "1040.00", "2026-03-10", reference="RE-2026-000453", currency="USD")],
                  [pay("P3", "1000.00", "2026-03-31", issued_on="2026-03-01", reference="RE-2026-000453")],
                  rules=text, rates=_fx_files(tmp_path))
    assert links(rows) == {("T3", "P3")}


def test_store_mode_records_the_fx_difference_on_the_link_and_reports_it(ws, tmp_path: Path, run_cli) -> None:
    import json
    from decimal import Decimal

    from reconwb import accounts, banks, connections
    from reconwb.matching import reconcile_store
    from reconwb.payments import import_file
    from reconwb.reports import payment_totals
    from reconwb.transactions import Txn, ingest
    from tests.matching.helpers import PAY_HEADER, write_csv

    (tmp_path / "ecb.csv").write_text("Date,USD,GBP\n2026-03-06,1.0850,0.8520\n2026-03-09,N/A,0.8600\n")
    imported = json.loads(run_cli("rates", "import", str(tmp_path / "ecb.csv"), "--json", check=True).stdout)
    assert imported == {"imported": 3, "replaced": 0}
    bad = run_cli("rates", "import", str(tmp_path / "nope.csv"))
    assert bad.returncode != 0 and bad.stderr.startswith("error: ") and "no such file" in bad.stderr
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "p.csv", PAY_HEADER, [
            pay("P1", "1000.00", "2026-03-31", issued_on="2026-03-01", reference="RE-2026-000451")]))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "usd", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-USD", currency="USD")
        ingest(con, account, [Txn(dt.date(2026, 3, 9), Decimal("1080.66"), "USD", "RE-2026-000451")],
               source="statement")
    report = reconcile_store(ws)
    assert report.matched == 1 and report.by_rule == {"reference-fx": 1}
    with ws.connect() as con:
        row = con.execute("SELECT amount, fee, fx_difference, fx_rate FROM matches").fetchall()
        status = con.execute("SELECT status FROM payments").fetchall()
        payload = json.loads(con.execute("SELECT payload FROM events WHERE type = 'payment.matched'").fetchall()[0][0])
    totals = payment_totals(ws)
    # 1080.66 USD at 1 / 1.085 (the 2026-03-06 rate, 3 days old) is 996.00 EUR; 4.00 EUR is the FX difference
    assert row == [(Decimal("996.00"), Decimal("0.00"), Decimal("4.00"), Decimal("0.92165899"))]
    assert status == [("paid",)]
    assert Decimal(payload["fx_difference"]) == Decimal("4.00") and "converted at 0.92165899" in payload["explanation"]
    assert totals.filter(pl.col("status") == "paid")["fx_differences"].to_list() == [Decimal("4.00")]


def test_pairs_no_file_gives_are_crossed_through_a_common_currency() -> None:
    """The ECB publishes every rate against EUR; a USD deposit paying a GBP invoice is converted through EUR."""
    table = pl.DataFrame({"day": [dt.date(2026, 3, 10)] * 2, "base": ["EUR"] * 2, "quote": ["USD", "GBP"],
                          "rate_e8": [108_500_000, 85_200_000]})
    txns = pl.DataFrame({"t": [0], "booked_on": [dt.date(2026, 3, 10)], "currency": ["USD"], "cents": [108_500]},
                        schema_overrides={"t": pl.UInt32})
    out = {row[1]: row for row in rates.convert(txns, table, max_age_days=5).rows()}
    # 1085.00 USD = 1000.00 EUR = 852.00 GBP; the crossed rate is rounded to 8 places like a published one
    assert out["EUR"][2] == 100_000 and out["GBP"][2:] == (85_200, 78_525_346)


def test_a_conversion_rounds_to_the_target_currencys_minor_unit() -> None:
    """Yen have no cents: 10.01 EUR at 161.23 is 1614 JPY (1613.91 rounded half up), never 1613.91 JPY."""
    table = pl.DataFrame({"day": [dt.date(2026, 3, 10)], "base": ["EUR"], "quote": ["JPY"],
                          "rate_e8": [16_123_000_000]})
    txns = pl.DataFrame({"t": [0], "booked_on": [dt.date(2026, 3, 10)], "currency": ["EUR"], "cents": [1_001]},
                        schema_overrides={"t": pl.UInt32})
    assert rates.convert(txns, table, max_age_days=5).rows() == [(0, "JPY", 161_400, 16_123_000_000)]


def _usd_deposit(ws, tmp_path: Path, amount: str, payments: list[dict[str, str]]) -> int:
    from decimal import Decimal

    from reconwb import accounts, banks, connections
    from reconwb.payments import import_file
    from reconwb.transactions import Txn, ingest
    from tests.matching.helpers import PAY_HEADER, write_csv

    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "p.csv", PAY_HEADER, payments))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "usd", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-USD", currency="USD")
        ingest(con, account, [Txn(dt.date(2026, 3, 9), Decimal(amount), "USD", "wire from a customer abroad")],
               source="statement")
        return con.execute("SELECT txn_id FROM transactions").fetchall()[0][0]


def test_a_manual_link_across_currencies_converts_at_the_stored_rate(ws, tmp_path: Path, run_cli) -> None:
    """An analyst links a USD wire to a EUR invoice: the link is in EUR at the day's rate, the rate is kept on
    the link, and a write-off of what the conversion leaves open is an FX difference, not a bank fee."""
    from decimal import Decimal

    from reconwb import matching

    txn_id = _usd_deposit(ws, tmp_path, "1080.66", [pay("P1", "1000.00", "2026-03-31", issued_on="2026-03-01")])
    refused = run_cli("matches", "link", "--txn", str(txn_id), "--payment", "P1")
    assert refused.returncode != 0 and refused.stderr.startswith("error: ") and "rates import" in refused.stderr
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM matches").fetchone()[0] == 0  # nothing half-written
    (tmp_path / "ecb.csv").write_text("Date,USD\n2026-03-06,1.0850\n")
    run_cli("rates", "import", str(tmp_path / "ecb.csv"), check=True)
    result = matching.link(ws, [txn_id], ["P1"], actor="ana", write_off=True)
    with ws.connect() as con:
        row = con.execute("SELECT amount, fee, fx_difference, fx_rate FROM matches").fetchall()
        status = con.execute("SELECT status FROM payments").fetchall()
    assert row == [(Decimal("996.00"), Decimal("0.00"), Decimal("4.00"), Decimal("0.92165899"))]
    assert status == [("paid",)] and result["payments"]["P1"]["status"] == "paid"


def test_a_manual_link_to_payments_in_two_currencies_is_refused(ws, tmp_path: Path) -> None:
    from reconwb import matching

    txn_id = _usd_deposit(ws, tmp_path, "200.00", [pay("P1", "100.00", "2026-03-31"),
                                                   pay("P2", "100.00", "2026-03-31", currency="GBP")])
    with pytest.raises(InvalidInput, match="payments' currencies differ: EUR, GBP"):
        matching.link(ws, [txn_id], ["P1", "P2"], actor="ana")
