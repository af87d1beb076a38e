"""Match shapes, ties and ambiguity, global assignment, exact money, the file-mode CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reconwb.matching.assign import assign
from tests.matching.helpers import PAY_HEADER, TXN_HEADER, links, pay, run, txn, write_csv


def _groups(rows: list[dict[str, str]]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["match_group"], set()).add((r["txn_id"], r["payment_id"]))
    return out


def test_one_to_one_rows_carry_group_rule_and_confidence(tmp_path: Path) -> None:
    rows, report = run(tmp_path, [txn("T1", "10.00", reference="G-1001")], [pay("P1", "10.00", reference="G-1001")])
    assert len(rows) == 1
    assert 0.9 <= float(rows[0]["confidence"]) <= 1.0
    assert rows[0]["match_group"]
    assert (report.matched, report.partially_matched, report.open_payments) == (1, 0, 0)


def test_split_payment_by_shared_reference(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "400.00", "2026-03-01", reference="H-7001"), txn("T2", "350.00", "2026-03-09",
                                                                  description="second part H-7001"),
         txn("T3", "250.00", "2026-03-15", reference="H-7001")],
        [pay("P1", "1000.00", reference="H-7001")],
    )
    groups = _groups(rows)
    assert list(groups.values()) == [{("T1", "P1"), ("T2", "P1"), ("T3", "P1")}]
    assert {r["rule"] for r in rows} == {"split-reference"}
    assert (report.matched, report.partially_matched) == (1, 0)


def test_partial_payment_leaves_a_residual(tmp_path: Path) -> None:
    rows, report = run(tmp_path, [txn("T1", "300.00", reference="H-7002")], [pay("P1", "1000.00", reference="H-7002")])
    assert links(rows) == {("T1", "P1")}
    assert rows[0]["rule"] == "partial-reference"
    assert (report.matched, report.partially_matched, report.open_payments) == (0, 1, 1)


def test_batch_by_listed_references(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn("T1", "180.50", description="Invoices K-2001, K-2002 and K-2003", counterparty="Acme")],
        [pay("P1", "100.00", reference="K-2001"), pay("P2", "50.25", reference="K-2002"),
         pay("P3", "30.25", reference="K-2003"), pay("P4", "30.25", reference="K-2004")],
    )
    assert list(_groups(rows).values()) == [{("T1", "P1"), ("T1", "P2"), ("T1", "P3")}]
    assert {r["rule"] for r in rows} == {"batch-references"}


def test_batch_by_bounded_subset_sum_of_one_payers_invoices(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn("T1", "337.15", description="COLLECTIVE PAYMENT", counterparty="IRON BAU")],
        [pay("P1", "120.10", payer="Iron Bau GmbH"), pay("P2", "99.99", payer="Iron Bau GmbH"),
         pay("P3", "217.05", payer="Iron Bau GmbH"), pay("P4", "17.00", payer="Iron Bau GmbH"),
         pay("P5", "120.10", payer="Other Ltd")],
    )
    # 120.10 + 217.05 = 337.15 is the only subset that fits
    assert list(_groups(rows).values()) == [{("T1", "P1"), ("T1", "P3")}]
    assert {r["rule"] for r in rows} == {"batch-subset-sum"}


def test_subset_sum_with_two_fitting_subsets_is_only_a_suggestion(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "100.00", description="COLLECTIVE PAYMENT", counterparty="Iron Bau")],
        [pay("P1", "60.00", payer="Iron Bau"), pay("P2", "40.00", payer="Iron Bau"),
         pay("P3", "70.00", payer="Iron Bau"), pay("P4", "30.00", payer="Iron Bau")],
    )
    assert rows == []
    assert report.suggested == 1


def test_equal_amounts_are_never_auto_matched_arbitrarily(tmp_path: Path) -> None:
    # several invoices of 49.00 from one payer, one deposit of 49.00 without a reference
    rows, report = run(
        tmp_path,
        [txn("T1", "49.00", description="SEPA CREDIT", counterparty="Pine Media")],
        [pay("P1", "49.00", payer="Pine Media AG"), pay("P2", "49.00", payer="Pine Media AG"),
         pay("P3", "49.00", payer="Pine Media AG")],
    )
    assert rows == []
    assert report.suggested == 1
    assert report.unmatched_transactions == 1


def test_equal_amounts_with_references_match_each_to_its_own(tmp_path: Path) -> None:
    rows, _ = run(
        tmp_path,
        [txn(f"T{i}", "49.00", reference=f"SUB-90{i}00") for i in range(1, 4)],
        [pay(f"P{i}", "49.00", reference=f"SUB-90{i}00", payer="Pine Media") for i in (3, 1, 2)],
    )
    assert links(rows) == {("T1", "P1"), ("T2", "P2"), ("T3", "P3")}


def test_a_reference_beats_an_equally_sized_stranger(tmp_path: Path) -> None:
    # T2 has the reference of P1; T1 only the amount and payer. Global assignment gives P1 to T2, P2 to T1.
    rows, _ = run(
        tmp_path,
        [txn("T1", "49.00", counterparty="Pine Media"), txn("T2", "49.00", reference="SUB-1234567",
                                                            counterparty="Pine Media")],
        [pay("P1", "49.00", "2026-03-10", reference="SUB-1234567", payer="Pine Media"),
         pay("P2", "49.00", "2026-04-10", payer="Pine Media", reference="SUB-7654321")],
    )
    assert ("T2", "P1") in links(rows)
    assert ("T1", "P1") not in links(rows)


def test_global_assignment_is_not_first_come() -> None:
    # T1 slightly prefers P1, but T2 can only take P1: the best total is T1-P2 and T2-P1
    scored = pl.DataFrame({"t": [1, 1, 2], "p": [1, 2, 1], "confidence": [0.96, 0.95, 0.97]},
                          schema={"t": pl.UInt32, "p": pl.UInt32, "confidence": pl.Float64})
    chosen = assign(scored, auto=0.9, suggest=0.5, margin=0.05)
    assert set(chosen.select("t", "p").rows()) == {(1, 2), (2, 1)}
    # any other choice leaves a deposit unexplained (regret 0.95 and 0.96): both are sure
    assert set(chosen["band"]) == {"matched"}


def test_a_close_rival_that_explains_the_money_as_well_keeps_it_a_suggestion() -> None:
    # one deposit, two invoices it fits about equally: forbidding the chosen one costs only 0.02
    scored = pl.DataFrame({"t": [1, 1, 2], "p": [1, 2, 3], "confidence": [0.95, 0.93, 0.5]},
                          schema={"t": pl.UInt32, "p": pl.UInt32, "confidence": pl.Float64})
    chosen = assign(scored, auto=0.9, suggest=0.5, margin=0.05)
    assert chosen.filter(pl.col("t") == 1).select("p", "band").rows() == [(1, "suggested")]


def test_monthly_equal_invoices_go_each_to_its_own_month(tmp_path: Path) -> None:
    """Same payer, same amount every month, no reference: each deposit to the invoice whose life it falls in."""
    rows, _ = run(
        tmp_path,
        [txn("T1", "99.00", "2026-01-20", counterparty="HOOLI MEDIA 77"),
         txn("T2", "99.00", "2026-02-25", counterparty="HOOLI MEDIA 77")],
        [pay("P1", "99.00", "2026-01-31", issued_on="2026-01-01", payer="Hooli Media 77 Ltd"),
         pay("P2", "99.00", "2026-03-03", issued_on="2026-02-01", payer="Hooli Media 77 Ltd")],
    )
    assert links(rows) == {("T1", "P1"), ("T2", "P2")}


def test_one_deposit_for_two_open_equal_invoices_is_only_suggested(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "99.00", "2026-02-10", counterparty="HOOLI MEDIA 77")],
        [pay("P1", "99.00", "2026-02-28", issued_on="2026-02-01", payer="Hooli Media 77 Ltd"),
         pay("P2", "99.00", "2026-03-03", issued_on="2026-02-03", payer="Hooli Media 77 Ltd")],
    )
    assert rows == [] and report.suggested == 1


def test_assignment_ties_are_deterministic_and_suggested() -> None:
    scored = pl.DataFrame({"t": [1, 1, 2, 2], "p": [1, 2, 1, 2], "confidence": [0.95] * 4},
                          schema={"t": pl.UInt32, "p": pl.UInt32, "confidence": pl.Float64})
    first = assign(scored, auto=0.9, suggest=0.5, margin=0.05)
    again = assign(scored.reverse(), auto=0.9, suggest=0.5, margin=0.05)
    assert first.sort("t").select("t", "p").rows() == again.sort("t").select("t", "p").rows()
    assert set(first["band"]) == {"suggested"}


def test_clear_winner_with_a_weak_rival_is_auto() -> None:
    scored = pl.DataFrame({"t": [1, 1], "p": [1, 2], "confidence": [0.99, 0.6]},
                          schema={"t": pl.UInt32, "p": pl.UInt32, "confidence": pl.Float64})
    chosen = assign(scored, auto=0.9, suggest=0.5, margin=0.05)
    assert chosen.select("t", "p", "band").rows() == [(1, 1, "matched")]


def test_money_is_exact_over_many_cents(tmp_path: Path) -> None:
    # 0.01 + 0.02 + ... + 0.20 in twenty deposits that exactly pay one invoice (float sums of cents drift)
    parts = [f"0.{i:02d}" if i < 100 else f"{i // 100}.{i % 100:02d}" for i in range(1, 21)]
    total = sum(int(p.replace(".", "")) for p in parts)
    invoice = f"{total // 100}.{total % 100:02d}"
    rows, report = run(
        tmp_path,
        [txn(f"T{i}", amount, description=f"part {i} M-555001") for i, amount in enumerate(parts)],
        [pay("P1", invoice, reference="M-555001")],
    )
    assert len(rows) == len(parts)
    assert (report.matched, report.partially_matched) == (1, 0)
    # one cent short is a partial payment, not a full one
    rows, report = run(
        tmp_path,
        [txn(f"T{i}", amount, description=f"part {i} M-555001") for i, amount in enumerate(parts)],
        [pay("P1", f"{(total + 1) // 100}.{(total + 1) % 100:02d}", reference="M-555001")],
    )
    assert (report.matched, report.partially_matched) == (0, 1)


def test_fee_on_a_batch_total_is_exact(tmp_path: Path) -> None:
    # 0.1 + 0.2 style amounts: 33.33 + 66.67 = 100.00, less 2.9 % + 0.30 = 96.80
    rows, _ = run(tmp_path, [txn("T1", "96.80", description="N-100001 N-100002")],
                  [pay("P1", "33.33", reference="N-100001"), pay("P2", "66.67", reference="N-100002")])
    assert links(rows) == {("T1", "P1"), ("T1", "P2")}


def test_unrelated_traffic_and_outgoing_money_match_nothing(tmp_path: Path) -> None:
    rows, report = run(
        tmp_path,
        [txn("T1", "-120.00", reference="O-1001"), txn("T2", "18.20", description="CARD REFUND 4411",
                                                        counterparty="Coffee Shop")],
        [pay("P1", "120.00", reference="O-1001"), pay("P2", "18.20", payer="Blue Media")],
    )
    assert rows == []
    assert report.transactions == 1  # the outgoing line is not considered


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    import pytest

    from reconwb.errors import InvalidInput

    write_csv(tmp_path / "t.csv", TXN_HEADER, [txn("T1", "10.00"), txn("T2", "1O.00")])
    write_csv(tmp_path / "p.csv", PAY_HEADER, [pay("P1", "10.00")])
    from reconwb.matching import reconcile_files

    with pytest.raises(InvalidInput, match=r"t\.csv:3: bad amount '1O.00'"):
        reconcile_files(tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_cli_file_mode(tmp_path: Path, run_cli) -> None:
    t = write_csv(tmp_path / "t.csv", TXN_HEADER, [txn("T1", "10.00", reference="Q-1001")])
    p = write_csv(tmp_path / "p.csv", PAY_HEADER, [pay("P1", "10.00", reference="Q-1001")])
    out = tmp_path / "out" / "m.csv"
    done = run_cli("reconcile", "--transactions", str(t), "--payments", str(p), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["matched"] == 1
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["txn_id", "payment_id", "match_group", "rule", "confidence", "explanation"]
    assert (rows[0]["txn_id"], rows[0]["payment_id"]) == ("T1", "P1")
    bad = run_cli("reconcile", "--transactions", str(t), "--out", str(out))
    assert bad.returncode != 0
    assert bad.stderr.startswith("error: file mode needs") and bad.stderr.count("\n") == 1
    missing = run_cli("reconcile", "--transactions", str(tmp_path / "nope.csv"), "--payments", str(p), "--out",
                      str(out))
    assert missing.returncode != 0 and "nope.csv: no such file" in missing.stderr


def _alone_pays_in_full(part: int, total: int) -> bool:
    """Whether one deposit of `part` cents passes for a `total` invoice under the default rules."""
    diff = total - part
    tolerance = min(max(5, total * 500 // 100_000), 500)  # 0.05 or 0.5 %, at most 5.00
    fees = ((total * 2900 + 50_000) // 100_000 + 30, 1500)  # 2.9 % + 0.30, or a 15.00 wire fee
    return abs(diff) <= tolerance or diff in fees


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.integers(min_value=1, max_value=9_999_999), min_size=2, max_size=8),
       short=st.integers(min_value=0, max_value=1))
@example(parts=[333_33, 666_67], short=0)
def test_split_sums_are_exact_for_any_cents(tmp_path: Path, parts: list[int], short: int) -> None:
    def money(cents: int) -> str:
        return f"{cents // 100}.{cents % 100:02d}"

    total = sum(parts) + short  # one cent more than the parts pay: partial, never rounded to paid
    # a part that alone passes as the whole payment (tolerance, fee) is one-to-one's case (see shapes.splits)
    assume(not any(_alone_pays_in_full(c, total) for c in parts))
    rows, report = run(
        tmp_path,
        [txn(f"T{i}", money(c), description=f"part {i} Z-8800001") for i, c in enumerate(parts)],
        [pay("P1", money(total), reference="Z-8800001")],
    )
    assert len(rows) == len(parts)
    assert (report.matched, report.partially_matched) == ((1, 0) if short == 0 else (0, 1))


def test_cli_rules_defaults_and_check(tmp_path: Path, run_cli) -> None:
    shown = run_cli("rules", "defaults")
    assert shown.returncode == 0
    path = tmp_path / "rules.toml"
    path.write_text(shown.stdout)
    checked = json.loads(run_cli("rules", "check", str(path), "--json").stdout)
    assert checked["rules"][0] == "reference-exact"
    path.write_text('[[rule]]\nname = "manual"\n')
    bad = run_cli("rules", "check", str(path))
    assert bad.returncode != 0 and "reserved" in bad.stderr
