"""Store mode: recorded groups, payment statuses, events, audit, manual work, dry runs, passthrough, CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from reconwb import accounts, banks, connections, settings
from reconwb.errors import Conflict, NotFound
from reconwb.matching import accept, link, open_items, reconcile_store, reject, suggestions, unlink
from reconwb.payments import import_file
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace
from tests.matching.helpers import PAY_HEADER, pay, write_csv

D = dt.date(2026, 3, 10)


@pytest.fixture
def seeded(ws: Workspace, tmp_path: Path) -> Workspace:
    """Invoices: A (exact ref), B (two parts), C and D and E (49.00 each, one payer, no ref), F (unpaid)."""
    rows = [
        pay("INV-A", "120.00", reference="RF-100001", payer="Acme GmbH"),
        pay("INV-B", "1000.00", reference="RF-100002", payer="Blue Ltd"),
        pay("INV-C", "49.00", payer="Pine Media AG"),
        pay("INV-D", "49.00", payer="Pine Media AG"),
        pay("INV-E", "49.00", payer="Pine Media AG"),
        pay("INV-F", "75.00", reference="RF-100006", payer="Nobody"),
    ]
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "payments.csv", PAY_HEADER, rows))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-1", currency="EUR")
        ingest(con, account, [
            Txn(D, Decimal("120.00"), "EUR", "invoice", reference="RF-100001", counterparty="ACME"),
            Txn(D, Decimal("600.00"), "EUR", "part one RF-100002", counterparty="Blue Ltd"),
            Txn(D, Decimal("49.00"), "EUR", "SEPA CREDIT", counterparty="Pine Media"),
            Txn(D, Decimal("-30.00"), "EUR", "fees"),
            Txn(D, Decimal("12.34"), "EUR", "CARD REFUND", counterparty="Coffee"),
        ], source="statement")
    return ws


def _q(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    with ws.connect() as con:
        return con.execute(sql, params or []).fetchall()


def _txn(ws: Workspace, description: str) -> int:
    return _q(ws, "SELECT txn_id FROM transactions WHERE description = ?", [description])[0][0]


def _status(ws: Workspace) -> dict[str, str]:
    return dict(_q(ws, "SELECT payment_id, status FROM payments"))


def test_store_run_records_groups_statuses_events_and_audit(seeded: Workspace) -> None:
    report = reconcile_store(seeded)
    assert (report.matched, report.partially_matched, report.suggested) == (1, 1, 1)
    assert report.unmatched_transactions == 2  # the 49.00 (ambiguous) and the refund
    assert report.open_payments == 5
    status = _status(seeded)
    assert status["INV-A"] == "paid" and status["INV-B"] == "partially_paid"
    assert {status[p] for p in ("INV-C", "INV-D", "INV-E", "INV-F")} == {"open"}
    events = _q(seeded, "SELECT type, payload FROM events WHERE type LIKE 'payment.%' ORDER BY type")
    assert [e[0] for e in events] == ["payment.matched", "payment.partially_matched"]
    partial = json.loads(events[1][1])
    assert partial["payment_id"] == "INV-B" and Decimal(partial["open_amount"]) == Decimal("400.00")
    groups = _q(seeded, "SELECT kind, rule, status, rule_version, evidence FROM match_groups ORDER BY rule")
    assert {(g[0], g[1], g[2]) for g in groups} >= {("one_to_one", "reference-exact", "matched"),
                                                     ("split", "partial-reference", "matched")}
    evidence = json.loads(next(g[4] for g in groups if g[1] == "reference-exact"))
    assert set(evidence["links"][0]) >= {"reference", "amount_fit", "payer", "date", "txn_id", "payment_id"}
    assert all(g[3] == report.rule_version for g in groups)
    actions = [a[0] for a in _q(seeded, "SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions.count("match.auto") == 2 and actions.count("match.suggested") == 1
    assert actions[-1] == "reconcile.run"


def test_second_run_changes_nothing_and_residual_is_matched_later(seeded: Workspace) -> None:
    reconcile_store(seeded)
    again = reconcile_store(seeded)
    assert (again.matched, again.partially_matched) == (0, 0)
    assert _q(seeded, "SELECT count(*) FROM match_groups WHERE status = 'matched'")[0][0] == 2
    with seeded.connect() as con:
        ingest(con, 1, [Txn(D + dt.timedelta(days=5), Decimal("400.00"), "EUR", "rest RF-100002")],
               source="statement")
    third = reconcile_store(seeded)
    assert third.matched == 1
    assert _status(seeded)["INV-B"] == "paid"


def _state(ws: Workspace) -> list[tuple]:
    return _q(ws, "SELECT (SELECT count(*) FROM match_groups), (SELECT count(*) FROM events),"
                  " (SELECT string_agg(group_id || status, ',' ORDER BY group_id) FROM match_groups),"
                  " (SELECT string_agg(status, ',' ORDER BY payment_id) FROM payments)")


def test_a_run_over_inputs_already_reconciled_is_skipped_until_something_changes(seeded: Workspace,
                                                                                   tmp_path: Path) -> None:
    first = reconcile_store(seeded)
    again = reconcile_store(seeded)  # reads what the first one left: other inputs, so it runs
    assert not first.skipped and not again.skipped
    before = _state(seeded)
    third = reconcile_store(seeded)  # reads what the second one read: the same decisions, nothing redone
    assert third.skipped and (third.matched, third.links) == (0, 0)
    assert (third.suggested, third.open_payments) == (again.suggested, again.open_payments)
    assert _state(seeded) == before
    assert not reconcile_store(seeded, connection="bank1").skipped  # another scope: its own fingerprint
    assert reconcile_store(seeded, dry_run=True).dry_run
    # a person's rejection, a new deposit, other rules: each makes the next run run
    reject(seeded, suggestions(seeded)["group_id"][0], actor="bob")
    assert not reconcile_store(seeded).skipped
    assert reconcile_store(seeded).skipped
    with seeded.connect() as con:
        ingest(con, 1, [Txn(D + dt.timedelta(days=5), Decimal("400.00"), "EUR", "rest RF-100002")],
               source="statement")
    fourth = reconcile_store(seeded)
    assert not fourth.skipped and fourth.matched == 1
    assert not reconcile_store(seeded).skipped  # the match it recorded changed what the next one reads
    assert reconcile_store(seeded).skipped
    rules = tmp_path / "rules.toml"
    rules.write_text('version = "strict"\n[[rule]]\nname = "reference-exact"\nreference = "exact"\n')
    assert not reconcile_store(seeded, rules=rules).skipped


def test_dry_run_changes_nothing(seeded: Workspace) -> None:
    before = _q(seeded, "SELECT (SELECT count(*) FROM match_groups), (SELECT count(*) FROM events),"
                        " (SELECT count(*) FROM audit_log), (SELECT string_agg(status, ',' ORDER BY payment_id)"
                        " FROM payments)")
    report = reconcile_store(seeded, dry_run=True)
    assert report.dry_run and report.matched == 1
    after = _q(seeded, "SELECT (SELECT count(*) FROM match_groups), (SELECT count(*) FROM events),"
                       " (SELECT count(*) FROM audit_log), (SELECT string_agg(status, ',' ORDER BY payment_id)"
                       " FROM payments)")
    assert before == after


def test_passthrough_matches_nothing(seeded: Workspace) -> None:
    with seeded.connect() as con:
        settings.set_value(con, "operation_mode", "passthrough")
    report = reconcile_store(seeded)
    assert report.mode == "passthrough" and report.matched == 0
    assert _q(seeded, "SELECT count(*) FROM match_groups")[0][0] == 0


def test_connection_filter(seeded: Workspace) -> None:
    with pytest.raises(NotFound, match="no connection named 'nope'"):
        reconcile_store(seeded, connection="nope")
    assert reconcile_store(seeded, connection="bank1", dry_run=True).matched == 1


def test_accept_a_suggestion_pins_it_and_emits(seeded: Workspace) -> None:
    reconcile_store(seeded)
    page = suggestions(seeded)
    assert page.height == 1 and page["txn_amount"][0] == Decimal("49.00")
    group_id = page["group_id"][0]
    result = accept(seeded, group_id, actor="alice", note="checked the remittance")
    assert result["status"] == "matched" and result["pinned"]
    paid = page["payment_id"][0]
    assert _status(seeded)[paid] == "paid"
    assert _q(seeded, "SELECT actor, action FROM audit_log WHERE action = 'match.accept'") == [("alice",
                                                                                                "match.accept")]
    assert _q(seeded, "SELECT count(*) FROM events WHERE type = 'payment.matched'")[0][0] == 2
    payload = json.loads(_q(seeded, "SELECT payload FROM events WHERE type = 'payment.matched' AND subject = ?",
                            [f"payment:{paid}"])[0][0])
    # the suggestion's words travel with the accepted match: why it was proposed, and why it was not automatic
    assert payload["explanation"].startswith("same payer, exact amount") and "not automatic" in payload["explanation"]
    with pytest.raises(Conflict):
        accept(seeded, group_id, actor="alice")


def test_rejected_suggestion_is_not_proposed_again(seeded: Workspace) -> None:
    reconcile_store(seeded)
    first = suggestions(seeded)
    reject(seeded, first["group_id"][0], actor="bob")
    reconcile_store(seeded)
    second = suggestions(seeded)
    rejected_pair = (first["txn_id"][0], first["payment_id"][0])
    assert rejected_pair not in set(zip(second["txn_id"], second["payment_id"], strict=True))
    assert _q(seeded, "SELECT status, pinned FROM match_groups WHERE group_id = ?", [first["group_id"][0]]) == [
        ("rejected", True)]


def test_manual_link_is_pinned_and_survives_reruns(seeded: Workspace) -> None:
    refund = _txn(seeded, "CARD REFUND")
    # a person decides the 12.34 refund pays part of INV-F
    result = link(seeded, [refund], ["INV-F"], actor="carol", note="customer called")
    assert result["rule"] == "manual" and result["pinned"] and result["created_by"] == "carol"
    assert result["payments"]["INV-F"]["status"] == "partially_paid"
    for _ in range(2):
        reconcile_store(seeded)
    rows = _q(seeded, "SELECT g.status, g.pinned, g.rule FROM match_groups g JOIN matches x USING (group_id)"
                      " WHERE x.txn_id = ?", [refund])
    assert rows == [("matched", True, "manual")]
    assert _q(seeded, "SELECT count(*) FROM events WHERE type = 'payment.partially_matched'"
                      " AND subject = 'payment:INV-F'")[0][0] == 1
    with pytest.raises(Conflict, match="already matched"):
        link(seeded, [refund], ["INV-A"], actor="carol")


def test_unlink_reopens_and_emits_match_removed(seeded: Workspace) -> None:
    reconcile_store(seeded)
    group_id = _q(seeded, "SELECT group_id FROM match_groups WHERE rule = 'reference-exact'")[0][0]
    unlink(seeded, group_id, actor="dave")
    assert _status(seeded)["INV-A"] == "open"
    removed = _q(seeded, "SELECT payload FROM events WHERE type = 'match.removed'")
    assert len(removed) == 1 and json.loads(removed[0][0])["group_id"] == group_id
    reconcile_store(seeded)  # the person said no: the pair is not matched again
    assert _status(seeded)["INV-A"] == "open"
    assert _q(seeded, "SELECT count(*) FROM audit_log WHERE action = 'match.unlink' AND actor = 'dave'")[0][0] == 1


def test_open_items_pages(seeded: Workspace) -> None:
    reconcile_store(seeded)
    txns = open_items(seeded, "transactions", limit=1)
    assert txns.height == 1
    assert open_items(seeded, "payments", limit=10).height == 5


def test_cli_store_mode_and_manual_commands(seeded: Workspace, run_cli) -> None:
    dry = run_cli("reconcile", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["matched"] == 1
    assert {"matched", "partially_matched", "suggested", "unmatched_transactions", "open_payments",
            "rule_version", "dry_run"} <= set(report)
    done = run_cli("reconcile", "--json")
    assert json.loads(done.stdout)["matched"] == 1
    listed = json.loads(run_cli("matches", "list", "--status", "suggested", "--json").stdout)
    assert len(listed) == 1
    rejected = run_cli("matches", "reject", listed[0]["group_id"], "--by", "erin", "--json")
    assert rejected.returncode == 0 and json.loads(rejected.stdout)["status"] == "rejected"
    refund = _txn(seeded, "CARD REFUND")
    linked = run_cli("matches", "link", "--txn", str(refund), "--payment", "INV-F", "--json")
    assert linked.returncode == 0, linked.stderr
    group_id = json.loads(linked.stdout)["group_id"]
    assert run_cli("matches", "unlink", group_id).returncode == 0
    again = run_cli("matches", "unlink", group_id)
    assert again.returncode != 0 and again.stderr.startswith("error: match group")
    missing = run_cli("matches", "accept", "grp_nope")
    assert missing.returncode != 0 and "no match group" in missing.stderr
    passthrough = run_cli("settings", "set", "operation_mode", "passthrough")
    assert passthrough.returncode == 0
    assert json.loads(run_cli("reconcile", "--json").stdout)["mode"] == "passthrough"


def test_rejected_subset_sum_batch_is_not_proposed_again(ws: Workspace, tmp_path: Path) -> None:
    rows = [pay("B1", "60.00", payer="Iron Bau"), pay("B2", "40.00", payer="Iron Bau"),
            pay("B3", "70.00", payer="Iron Bau"), pay("B4", "30.00", payer="Iron Bau")]
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "p.csv", PAY_HEADER, rows))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-1")
        ingest(con, account, [Txn(D, Decimal("100.00"), "EUR", "COLLECTIVE", counterparty="IRON BAU")],
               source="statement")
    reconcile_store(ws)
    first = suggestions(ws)
    assert first["group_id"].n_unique() == 1 and first.height == 2  # two invoices, one group
    reject(ws, first["group_id"][0], actor="fay")
    reconcile_store(ws)
    second = suggestions(ws)
    assert not set(first["payment_id"]) <= set(second["payment_id"])


def test_a_connection_run_keeps_other_connections_suggestions(seeded: Workspace) -> None:
    with seeded.connect() as con:
        conn = connections.add(con, "bank2", banks.STATEMENT_BANK)
        other = accounts.ensure(con, conn.connection_id, "ACC-2")
        ingest(con, other, [Txn(D, Decimal("75.00"), "EUR", "SEPA CREDIT", counterparty="Someone")],
               source="statement")
    reconcile_store(seeded)
    before = set(suggestions(seeded)["txn_id"])
    assert len(before) == 2  # the 49.00 (bank1) and the 75.00 (bank2, amount only)
    reconcile_store(seeded, connection="bank1")
    assert set(suggestions(seeded)["txn_id"]) == before


@pytest.fixture
def short_deposits(ws: Workspace, tmp_path: Path) -> Workspace:
    """Deposits short by a card fee (2.9 % + 0.30), a wire fee (15.00), a tolerance, and a batch less a fee."""
    rows = [
        pay("INV-CARD", "100.00", reference="RF-200001"),
        pay("INV-WIRE", "500.00", reference="RF-200002"),
        pay("INV-TOL", "1000.00", reference="RF-200003"),
        pay("INV-B1", "33.33", reference="RF-200004"),
        pay("INV-B2", "66.67", reference="RF-200005"),
    ]
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "payments.csv", PAY_HEADER, rows))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-1", currency="EUR")
        ingest(con, account, [
            Txn(D, Decimal("96.80"), "EUR", "card payout", reference="RF-200001"),
            Txn(D, Decimal("485.00"), "EUR", "wire", reference="RF-200002"),
            Txn(D, Decimal("997.00"), "EUR", "sepa", reference="RF-200003"),
            Txn(D, Decimal("96.80"), "EUR", "RF-200004 RF-200005"),
        ], source="statement")
    return ws


def test_a_deposit_short_by_a_known_fee_pays_its_invoice_in_full(short_deposits: Workspace) -> None:
    report = reconcile_store(short_deposits)
    assert (report.matched, report.partially_matched) == (5, 0)
    assert set(_status(short_deposits).values()) == {"paid"}
    links = {pid: (amount, fee) for pid, amount, fee in _q(short_deposits,
             "SELECT payment_id, amount, fee FROM matches")}
    assert links["INV-CARD"] == (Decimal("96.80"), Decimal("3.20"))
    assert links["INV-WIRE"] == (Decimal("485.00"), Decimal("15.00"))
    assert links["INV-TOL"] == (Decimal("997.00"), Decimal("3.00"))  # within 0.5 %, at most 5.00
    # the batch's links add up to the deposit; the fee on the total falls on the last invoice
    assert links["INV-B1"] == (Decimal("33.33"), Decimal("0.00"))
    assert links["INV-B2"] == (Decimal("63.47"), Decimal("3.20"))
    batch_total = _q(short_deposits, "SELECT sum(amount) FROM matches WHERE payment_id LIKE 'INV-B%'")[0][0]
    assert batch_total == Decimal("96.80")
    events = {json.loads(p)["payment_id"]: json.loads(p) for (p,) in _q(
        short_deposits, "SELECT payload FROM events WHERE type = 'payment.matched'")}
    assert Decimal(events["INV-CARD"]["fee"]) == Decimal("3.20")
    assert Decimal(events["INV-CARD"]["open_amount"]) == 0
    assert events["INV-CARD"]["transactions"][0]["fee"] == "3.20"


def test_unlinking_a_fee_match_reopens_the_whole_invoice(short_deposits: Workspace) -> None:
    reconcile_store(short_deposits)
    (group_id,) = _q(short_deposits, "SELECT group_id FROM matches WHERE payment_id = 'INV-CARD'")[0]
    unlink(short_deposits, group_id, actor="ana")
    assert _status(short_deposits)["INV-CARD"] == "open"
    still_open = open_items(short_deposits, "payments").filter(payment_id="INV-CARD")
    assert still_open["open_amount"].to_list() == [Decimal("100.00")]  # the fee went with the match


def test_a_manual_link_can_write_off_the_difference(seeded: Workspace) -> None:
    part = _txn(seeded, "part one RF-100002")  # 600.00 of INV-B's 1000.00
    plain = link(seeded, [part], ["INV-B"], actor="ana")
    assert _status(seeded)["INV-B"] == "partially_paid" and plain["links"][0]["fee"] == 0
    unlink(seeded, plain["group_id"], actor="ana")
    settled = link(seeded, [part], ["INV-B"], actor="ana", note="customer disputes 400.00", write_off=True)
    assert _status(seeded)["INV-B"] == "paid"
    assert [(x["amount"], x["fee"]) for x in settled["links"]] == [(Decimal("600.00"), Decimal("400.00"))]
    payload = json.loads(_q(seeded, "SELECT payload FROM events WHERE type = 'payment.matched'")[-1][0])
    assert payload["payment_id"] == "INV-B" and Decimal(payload["fee"]) == Decimal("400.00")
    detail = json.loads(_q(seeded, "SELECT detail FROM audit_log WHERE action = 'match.link' ORDER BY audit_id")[-1][0])
    assert detail["links"][0]["fee"] == "400.00" and detail["note"] == "customer disputes 400.00"


def test_a_batch_link_writes_off_only_what_is_left_open(seeded: Workspace, run_cli) -> None:
    deposit = _txn(seeded, "SEPA CREDIT")  # 49.00 for INV-C and INV-D, 98.00 together
    done = run_cli("matches", "link", "--txn", str(deposit), "--payment", "INV-C", "--payment", "INV-D",
                   "--write-off", "--by", "ana", check=True)
    assert "49.00 written off as fee" in done.stdout
    assert (_status(seeded)["INV-C"], _status(seeded)["INV-D"]) == ("paid", "paid")
    assert _q(seeded, "SELECT payment_id, amount, fee FROM matches WHERE txn_id = ? ORDER BY payment_id",
              [deposit]) == [("INV-C", Decimal("49.00"), Decimal("0.00")), ("INV-D", Decimal("0.00"),
                                                                             Decimal("49.00"))]
