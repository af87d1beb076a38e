"""Each rule kind, through file mode: the link appears exactly when the rule's condition holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconwb.errors import InvalidInput
from reconwb.matching import rules
from tests.matching.helpers import links, pay, run, txn


def test_defaults_work_without_a_file_and_are_versioned() -> None:
    loaded = rules.load()
    assert loaded.version.startswith("default-2+")
    assert [r.name for r in loaded.rules][:2] == ["reference-exact", "reference-in-text"]
    assert rules.load().version == loaded.version  # the same text, the same version


def test_rules_file_errors_name_the_file_and_the_rule(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('[[rule]]\nname = "x"\nreference = "sometimes"\n')
    with pytest.raises(InvalidInput, match=r"r\.toml: rule 'x': reference must be one of"):
        rules.load(bad)
    bad.write_text('[[rule]]\nname = "x"\namount = { fees = [ { pct = "2.9999" } ] }\n')
    with pytest.raises(InvalidInput, match="at most 3 decimals"):
        rules.load(bad)
    bad.write_text("[[rule]\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        rules.load(bad)
    with pytest.raises(InvalidInput, match="cannot read rules file"):
        rules.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\nname = "x"\ndate = { before = 3, anchor = "issue" }\n', "date anchor must be one of life, due"),
    ('[fx]\ntolerance_pct = "1.0001"\n[[rule]]\nname = "x"\n', "fx tolerance_pct"),
    ('[fx]\nmax_rate_age_days = 90\n[[rule]]\nname = "x"\n', "max_rate_age_days must be"),
    ('[[rule]]\nname = "x"\namount = { fx = "yes" }\n', "amount fx must be true or false"),
    ('[[rule]]\nname = "x"\npayer = "nobody"\n', "payer must be one of name, iban, name_or_iban, absent"),
])
def test_new_rules_keys_are_checked(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        rules.load(bad)


def test_fee_schedule_is_exact_integer_maths() -> None:
    fee = rules.Fee(pct_milli=2900, fixed_cents=30)
    assert fee.fee_cents(10000) == 320  # 2.9 % of 100.00 + 0.30
    assert fee.fee_cents(4950) == 174  # 143.55 cents rounds half up to 144, + 30


def test_reference_exact_after_normalisation(tmp_path: Path) -> None:
    rows, _ = run(tmp_path, [txn("T1", "120.00", reference="inv 2026/0042")],
                  [pay("P1", "120.00", reference="INV-2026-0042"), pay("P2", "120.00", reference="INV-2026-0043")])
    assert links(rows) == {("T1", "P1")}
    assert rows[0]["rule"] == "reference-exact"


def test_reference_extracted_from_description(tmp_path: Path) -> None:
    rows, _ = run(tmp_path, [txn("T1", "75.10", description="Payment for invoice RE-99812 thanks")],
                  [pay("P1", "75.10", reference="RE-99812")])
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "reference-in-text")]


def test_custom_extraction_regex(tmp_path: Path) -> None:
    text = ('version = "x"\n[reference]\npatterns = ["ORD#[0-9]+"]\n'
            '[[rule]]\nname = "order"\nreference = "extracted"\n')
    rows, _ = run(tmp_path, [txn("T1", "10.00", description="thanks ORD#5521 from us")],
                  [pay("P1", "10.00", reference="ORD5521")], rules=text)
    assert links(rows) == {("T1", "P1")}


def test_fuzzy_reference_tolerates_one_typo(tmp_path: Path) -> None:
    rows, _ = run(tmp_path, [txn("T1", "49.00", description="Rechnung INV-83710245")],
                  [pay("P1", "49.00", reference="INV-83710345"), pay("P2", "49.00", reference="INV-55555555")])
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "reference-fuzzy")]


def test_a_typo_with_an_amount_off_is_taken_only_by_a_rule_that_tolerates_it(tmp_path: Path) -> None:
    # candidate generation drops one-edit pairs whose amount fits no invoice amount (or known fee) unless some
    # rule could take them: a rules file with a tolerant fuzzy rule keeps them
    deposits = [txn("T1", "48.80", description="Rechnung INV-83710245")]
    invoices = [pay("P1", "49.00", reference="INV-83710345")]
    rows, _ = run(tmp_path, deposits, invoices)
    assert rows == []
    text = """
version = "tolerant-typos"
[[rule]]
name = "fuzzy-tolerant"
reference = "fuzzy"
amount = { tolerance_abs = "0.50" }
"""
    rows, _ = run(tmp_path, deposits, invoices, rules=text)
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "fuzzy-tolerant")]


def test_fuzzy_guard_short_reference_never_matches_inside_a_longer_one(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "49.00", description="order 1234567 and INV-12"), txn("T2", "49.00", reference="INV-123")],
        [pay("P1", "49.00", reference="INV-1"), pay("P2", "49.00", reference="1234")],
    )
    assert rows == []
    assert report.unmatched_transactions == 2


def test_amount_fee_schedule(tmp_path: Path) -> None:
    # 100.00 less 2.9 % + 0.30 = 96.80; 500.00 less a 15.00 wire fee = 485.00; 96.79 overpays 96.00 beyond tolerance
    rows, report = run(
        tmp_path,
        [txn("T1", "96.80", reference="A-100001"), txn("T2", "485.00", reference="A-100002"),
         txn("T3", "96.79", reference="A-100003")],
        [pay("P1", "100.00", reference="A-100001"), pay("P2", "500.00", reference="A-100002"),
         pay("P3", "96.00", reference="A-100003")],
    )
    assert {(r["txn_id"], r["payment_id"], r["rule"]) for r in rows} == {
        ("T1", "P1", "reference-fee"), ("T2", "P2", "reference-fee")}
    # the fee settles the invoice: paid in full, not left open by the bank's charge
    assert (report.matched, report.partially_matched) == (2, 0)


def test_amount_tolerance_absolute_percentage_and_bound(tmp_path: Path) -> None:
    text = """
version = "tol"
[[rule]]
name = "tolerant"
reference = "exact"
amount = { tolerance_abs = "0.50", tolerance_pct = "1", tolerance_max = "3.00" }
"""
    rows, _ = run(
        tmp_path,
        [txn("T1", "99.55", reference="B-1001"),  # 0.45 off 100.00: within 0.50
         txn("T2", "99.00", reference="B-1002"),  # 1.00 off 100.00: 1 % = 1.00, within
         txn("T3", "1004.00", reference="B-1003"),  # 4.00 over 1000.00: 1 % = 10.00 but bounded by 3.00
         txn("T4", "101.10", reference="B-1004")],  # 1.10 over 100.00: outside (paying less is a partial payment)
        [pay("P1", "100.00", reference="B-1001"), pay("P2", "100.00", reference="B-1002"),
         pay("P3", "1000.00", reference="B-1003"), pay("P4", "100.00", reference="B-1004")],
        rules=text,
    )
    assert links(rows) == {("T1", "P1"), ("T2", "P2")}


def test_asymmetric_date_window_around_the_due_date(tmp_path: Path) -> None:
    text = """
version = "dates"
[[rule]]
name = "ref"
reference = "exact"
date = { before = 2, after = 10, anchor = "due" }
"""
    due = "2026-03-10"
    rows, _ = run(
        tmp_path,
        [txn("T1", "10.00", "2026-03-08", reference="C-1001"),  # 2 days early: in
         txn("T2", "10.00", "2026-03-07", reference="C-1002"),  # 3 days early: out
         txn("T3", "10.00", "2026-03-20", reference="C-1003"),  # 10 days late: in
         txn("T4", "10.00", "2026-03-21", reference="C-1004")],  # 11 days late: out
        [pay(f"P{i}", "10.00", due, reference=f"C-100{i}") for i in range(1, 5)],
        rules=text,
    )
    assert links(rows) == {("T1", "P1"), ("T3", "P3")}


def test_window_follows_the_invoice_life_from_issue_to_due_plus_grace(tmp_path: Path) -> None:
    text = """
version = "life"
[[rule]]
name = "ref"
reference = "exact"
date = { before = 3, after = 10 }
"""
    # issued 2026-02-01, due 2026-04-02: from 3 days before issue to 10 days after due
    rows, _ = run(
        tmp_path,
        [txn("T1", "10.00", "2026-01-29", reference="L-1001"),  # 3 days before issue: in
         txn("T2", "10.00", "2026-01-28", reference="L-1002"),  # 4 days before issue: out
         txn("T3", "10.00", "2026-02-20", reference="L-1003"),  # six weeks before due: in
         txn("T4", "10.00", "2026-04-12", reference="L-1004"),  # 10 days late: in
         txn("T5", "10.00", "2026-04-13", reference="L-1005")],  # 11 days late: out
        [pay(f"P{i}", "10.00", "2026-04-02", issued_on="2026-02-01", reference=f"L-100{i}") for i in range(1, 6)],
        rules=text,
    )
    assert links(rows) == {("T1", "P1"), ("T3", "P3"), ("T4", "P4")}


def test_default_rules_take_an_early_payer_on_long_terms(tmp_path: Path) -> None:
    """The issue's first miss: no reference, paid 9 days after issue and 21 before due; payer and amount agree."""
    rows, _ = run(
        tmp_path,
        [txn("T1", "15611.50", "2026-08-09", description="DEPOSIT TYRELL UMBRELLA GMBH 3693",
             counterparty="TYRELL UMBRELLA GMBH 3693")],
        [pay("P1", "15611.50", "2026-08-30", issued_on="2026-07-31", reference="INV-0000001",
             payer="TYRELL UMBRELLA GMBH 3693"),
         pay("P2", "15611.50", "2026-08-30", issued_on="2026-07-31", reference="INV-0000002",
             payer="TYRELL UMBRELLA GMBH 3694")],
    )
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "payer-amount")]


def test_payer_name_without_reference(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn("T1", "312.40", description="SEPA CREDIT", counterparty="NORDWIND LOGISTIK"),
         txn("T2", "88.10", description="SEPA CREDIT", counterparty="Somebody Else")],
        [pay("P1", "312.40", payer="Nordwind Logistik GmbH"), pay("P2", "88.10", payer="Blue Media Ltd")],
    )
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "payer-amount")]


def test_payer_iban(tmp_path: Path) -> None:
    text = """
version = "iban"
[[rule]]
name = "by-iban"
payer = "iban"
max_confidence = 1.0
"""
    import polars as pl

    t = pl.DataFrame({"txn_id": ["T1"], "account_id": ["A"], "booked_on": ["2026-03-09"], "amount": ["40.00"],
                      "currency": ["EUR"], "description": [""], "reference": [""], "counterparty": [""],
                      "counterparty_iban": ["DE89 3704 0044 0532 0130 00"]})
    p = pl.DataFrame({"payment_id": ["P1", "P2"], "amount": ["40.00", "40.00"], "currency": ["EUR", "EUR"],
                      "issued_on": ["", ""], "due_on": ["2026-03-08", "2026-03-08"], "reference": ["", ""],
                      "payer": ["", ""], "payer_iban": ["DE89370400440532013000", "FR7630006000011234567890189"]})
    t.write_csv(tmp_path / "t.csv")
    p.write_csv(tmp_path / "p.csv")
    (tmp_path / "r.toml").write_text(text)
    from reconwb.matching import reconcile_files

    report = reconcile_files(tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "m.csv", tmp_path / "r.toml")
    out = pl.read_csv(tmp_path / "m.csv", infer_schema=False)
    assert out.select("txn_id", "payment_id").rows() == [("T1", "P1")]
    assert report.by_rule == {"by-iban": 1}


def test_currency_blocks(tmp_path: Path) -> None:
    rows, _ = run(tmp_path, [txn("T1", "50.00", reference="D-1001", currency="USD")],
                  [pay("P1", "50.00", reference="D-1001", currency="EUR")])
    assert rows == []


def test_account_must_match_when_the_payment_names_one(tmp_path: Path) -> None:
    import polars as pl

    from reconwb.matching import reconcile_files

    t = pl.DataFrame({"txn_id": ["T1", "T2"], "account_id": ["ACC-1", "ACC-2"], "booked_on": ["2026-03-09"] * 2,
                      "amount": ["40.00", "41.00"], "currency": ["EUR"] * 2, "description": [""] * 2,
                      "reference": ["E-1001", "E-1002"], "counterparty": [""] * 2})
    p = pl.DataFrame({"payment_id": ["P1", "P2"], "amount": ["40.00", "41.00"], "currency": ["EUR"] * 2,
                      "issued_on": [""] * 2, "due_on": ["2026-03-08"] * 2, "reference": ["E-1001", "E-1002"],
                      "payer": [""] * 2, "account_ref": ["ACC-1", "ACC-1"]})
    t.write_csv(tmp_path / "t.csv")
    p.write_csv(tmp_path / "p.csv")
    reconcile_files(tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "m.csv")
    out = pl.read_csv(tmp_path / "m.csv", infer_schema=False)
    assert out.select("txn_id", "payment_id").rows() == [("T1", "P1")]


def test_rule_order_decides_the_name(tmp_path: Path) -> None:
    text = """
version = "order"
[[rule]]
name = "first"
reference = "extracted"
[[rule]]
name = "second"
reference = "exact"
"""
    rows, report = run(tmp_path, [txn("T1", "10.00", reference="F-1001")],
                       [pay("P1", "10.00", reference="F-1001")], rules=text)
    assert rows[0]["rule"] == "first"
    assert report.rule_version.startswith("order+")


def test_payer_and_amount_after_a_known_fee_without_reference(tmp_path: Path) -> None:
    """The issue's second miss: a card settlement of 149.00 less 2.9 % + 0.30, no reference."""
    rows, _ = run(
        tmp_path,
        [txn("T1", "144.38", "2026-05-11", description="CARD SETTLEMENT", counterparty="VANDELAY ACME STORES 1994"),
         txn("T2", "144.38", "2026-05-11", description="CARD SETTLEMENT", counterparty="Initech 77")],
        [pay("P1", "149.00", "2026-05-28", issued_on="2026-04-28", reference="INV-0000022",
             payer="VANDELAY ACME STORES 1994"),
         pay("P2", "149.00", "2026-05-28", issued_on="2026-04-28", reference="INV-0000023", payer="Globex 12")],
    )
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "payer-fee")]
    assert rows[0]["explanation"] == "same payer, amount less a fee of 4.62, paid 13 days after issue"


def test_payer_and_a_reference_one_edit_away_even_when_it_is_another_invoices_number(tmp_path: Path) -> None:
    """The issue's third miss: INV-0008060 is another (open) invoice's number; payer and amount say INV-0000060."""
    rows, _ = run(
        tmp_path,
        [txn("T1", "19.99", "2026-07-14", reference="INV-0008060", counterparty="OSCORP DUNDER BV 3076"),
         txn("T2", "52.10", "2026-07-14", reference="INV-000071", counterparty="Globex 12"),  # a dropped digit
         txn("T3", "63.00", "2026-07-15", reference="INV-0000093", counterparty="Initech 5")],  # transposed
        [pay("P60", "19.99", "2026-08-07", issued_on="2026-07-08", reference="INV-0000060",
             payer="OSCORP DUNDER BV 3076"),
         pay("P8060", "250.00", "2026-08-07", issued_on="2026-07-08", reference="INV-0008060", payer="Someone 8"),
         pay("P71", "52.10", "2026-08-07", issued_on="2026-07-08", reference="INV-0000071", payer="Globex 12 Ltd"),
         pay("P39", "63.00", "2026-08-07", issued_on="2026-07-08", reference="INV-0000039", payer="Initech 5 Inc")],
    )
    assert {(r["txn_id"], r["payment_id"], r["rule"]) for r in rows} == {
        ("T1", "P60", "payer-reference-typo"), ("T2", "P71", "payer-reference-typo"),
        ("T3", "P39", "payer-reference-typo")}
    first = next(r for r in rows if r["txn_id"] == "T1")
    assert first["explanation"].startswith("reference INV0008060 is one character from INV-0000060, same payer")


def test_a_typo_without_payer_or_amount_agreeing_is_not_taken(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn("T1", "19.98", "2026-07-14", reference="INV-0008060", counterparty="Somebody 9")],
        [pay("P60", "19.99", "2026-08-07", issued_on="2026-07-08", reference="INV-0000060", payer="Oscorp 3076")],
    )
    assert rows == []


def test_payer_by_iban_when_the_name_is_missing(tmp_path: Path) -> None:
    import polars as pl

    from reconwb.matching import reconcile_files

    pl.DataFrame({"txn_id": ["T1", "T2"], "account_id": ["A"] * 2, "booked_on": ["2026-03-09"] * 2,
                  "amount": ["40.00", "41.00"], "currency": ["EUR"] * 2, "description": ["SEPA"] * 2,
                  "reference": [""] * 2, "counterparty": ["", ""],
                  "counterparty_iban": ["de89 3704 0044 0532 0130 00", "FR7630006000011234567890189"]}
                 ).write_csv(tmp_path / "t.csv")
    pl.DataFrame({"payment_id": ["P1", "P2"], "amount": ["40.00", "41.00"], "currency": ["EUR"] * 2,
                  "issued_on": ["2026-03-01"] * 2, "due_on": ["2026-03-31"] * 2, "reference": ["", ""],
                  "payer": ["Nord 1", "Sud 2"], "payer_iban": ["DE89370400440532013000", "DE02120300000000202051"]}
                 ).write_csv(tmp_path / "p.csv")
    reconcile_files(tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "m.csv")
    out = pl.read_csv(tmp_path / "m.csv", infer_schema=False)
    assert out.select("txn_id", "payment_id", "rule").rows() == [("T1", "P1", "payer-amount")]
    assert out["explanation"][0] == "payer's IBAN agrees, exact amount, paid 8 days after issue"


def test_a_nameless_deposit_with_an_amount_nothing_else_has_matches_inside_the_invoice_life(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "226.11", "2026-01-20", description="SEPA CREDIT TRANSFER"),  # no name, unique amount
         txn("T2", "318.40", "2026-01-20", description="SEPA CREDIT", counterparty="Someone Else 4"),  # a name
         txn("T3", "99.00", "2026-01-20", description="SEPA CREDIT TRANSFER")],  # two invoices of 99.00
        [pay("P1", "226.11", "2026-01-23", issued_on="2025-12-24", payer="Pine Tech 1975 GmbH"),
         pay("P2", "318.40", "2026-01-23", issued_on="2025-12-24", payer="Red Optik 3075 Ltd"),
         pay("P3", "99.00", "2026-01-23", issued_on="2025-12-24", payer="Sud Foods 997 BV"),
         pay("P4", "99.00", "2026-01-25", issued_on="2025-12-26", payer="Oak Media 12 AG")],
    )
    assert [(r["txn_id"], r["payment_id"], r["rule"]) for r in rows] == [("T1", "P1", "amount-unique")]
    assert rows[0]["explanation"].startswith("exact amount that no other open invoice or deposit has, paid")
    assert report.suggested >= 2  # the named stranger and the 99.00 stay for a person
