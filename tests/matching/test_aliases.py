"""Learning from people: a manual link teaches an alias that later runs use; removing it undoes that; a
rejected suggestion is evidence against its name pair. Real store, real CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from reconwb import accounts, banks, connections
from reconwb.matching import link, reconcile_files, reconcile_store, reject, suggestions
from reconwb.matching.aliases import list_aliases, remove
from reconwb.payments import import_file
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace
from tests.matching.helpers import PAY_HEADER, TXN_HEADER, pay, txn, write_csv

D = dt.date(2026, 3, 10)
PARENT = "NORTHWIND PAYMENT SERVICES 55"  # pays on behalf of its subsidiary, under its own name


def _seed(ws: Workspace, tmp_path: Path, rows: list[dict[str, str]], txns: list[Txn]) -> int:
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "payments.csv", PAY_HEADER, rows))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        account = accounts.ensure(con, conn.connection_id, "ACC-1", currency="EUR")
        ingest(con, account, txns, source="statement")
    return account


def _q(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    with ws.connect() as con:
        return con.execute(sql, params or []).fetchall()


def _group_of(ws: Workspace, description: str) -> list[tuple]:
    return _q(ws, "SELECT g.status, g.rule, x.payment_id, g.evidence FROM match_groups g JOIN matches x"
                  " USING (group_id) JOIN transactions t ON t.txn_id = x.txn_id WHERE t.description = ?",
              [description])


def test_a_manual_link_teaches_an_alias_and_removing_it_undoes_that(ws: Workspace, tmp_path: Path,
                                                                     run_cli) -> None:
    account = _seed(ws, tmp_path, [
        pay("P1", "812.40", "2026-03-31", issued_on="2026-03-01", payer="Tyrell Umbrella 3693 GmbH"),
        pay("P2", "377.15", "2026-04-30", issued_on="2026-04-01", payer="Tyrell Umbrella 3693 GmbH"),
        pay("P3", "59.90", "2026-05-31", issued_on="2026-05-01", payer="Tyrell Umbrella 3693 GmbH"),
    ], [Txn(D, Decimal("812.40"), "EUR", "first", counterparty=PARENT, counterparty_iban="DE44 5001 0517 5407")])
    reconcile_store(ws)
    assert all(row[0] != "matched" for row in _group_of(ws, "first"))  # a stranger's name: no auto-match
    first = _q(ws, "SELECT txn_id FROM transactions WHERE description = 'first'")[0][0]
    result = link(ws, [first], ["P1"], actor="dana")
    learned = {(a["kind"], a["counterparty"], a["payer"]) for a in result["aliases_learned"]}
    assert learned == {("name", PARENT, "Tyrell Umbrella 3693 GmbH"),
                       ("iban", "DE44500105175407", "Tyrell Umbrella 3693 GmbH")}
    assert _q(ws, "SELECT count(*) FROM audit_log WHERE action = 'payer.alias' AND actor = 'dana'")[0][0] == 2

    # the next deposit from the same counterparty, no reference, no IBAN: payer evidence via the alias
    with ws.connect() as con:
        ingest(con, account, [Txn(D + dt.timedelta(days=30), Decimal("377.15"), "EUR", "second",
                                  counterparty=PARENT)], source="statement")
    reconcile_store(ws)
    [(status, rule, payment, evidence)] = _group_of(ws, "second")
    assert (status, rule, payment) == ("matched", "payer-amount", "P2")
    explanation = json.loads(evidence)["explanation"]
    assert f"payer known by the alias {PARENT}" in explanation
    event = json.loads(_q(ws, "SELECT payload FROM events WHERE type = 'payment.matched' AND subject = ?",
                          ["payment:P2"])[0][0])
    assert event["explanation"] == explanation

    # listable and removable, by the CLI as a user would
    listed = json.loads(run_cli("payers", "aliases", "--json", check=True).stdout)
    assert {(a["kind"], a["polarity"]) for a in listed} == {("name", "alias"), ("iban", "alias")}
    for alias in listed:
        run_cli("payers", "aliases", "remove", alias["alias_id"], "--by", "dana", check=True)
    assert list_aliases(ws).is_empty()
    assert _q(ws, "SELECT count(*) FROM audit_log WHERE action = 'payer.alias_removed'")[0][0] == 2
    missing = run_cli("payers", "aliases", "remove", "alias_nope")
    assert missing.returncode != 0 and missing.stderr.startswith("error: no payer alias")

    # without the alias the same kind of deposit is a stranger's again
    with ws.connect() as con:
        ingest(con, account, [Txn(D + dt.timedelta(days=60), Decimal("59.90"), "EUR", "third",
                                  counterparty=PARENT)], source="statement")
    reconcile_store(ws)
    assert all(row[0] != "matched" for row in _group_of(ws, "third"))


def test_a_rejected_suggestion_is_evidence_against_its_name_pair(ws: Workspace, tmp_path: Path) -> None:
    close_name = "HOOLI MEDIA GRUOP 77"  # close to the invoice's payer, but a person says it is someone else
    payer = "Hooli Media Group 77 Ltd"
    account = _seed(ws, tmp_path, [
        pay("P1", "49.00", "2026-03-31", issued_on="2026-03-01", payer=payer),
        pay("P2", "49.00", "2026-03-31", issued_on="2026-03-02", payer=payer),
        pay("P3", "61.10", "2026-04-30", issued_on="2026-04-01", payer=payer),
    ], [Txn(D, Decimal("49.00"), "EUR", "first", counterparty=close_name)])
    reconcile_store(ws)
    [group_id] = suggestions(ws)["group_id"].unique().to_list()  # two equal invoices: only a suggestion
    result = reject(ws, group_id, actor="erin")
    assert [(a["kind"], a["polarity"]) for a in result["aliases_learned"]] == [("name", "rejected")]

    # control: without the rejection the close name counts as the payer and auto-matches (file mode, no store)
    t = write_csv(tmp_path / "t.csv", TXN_HEADER, [txn("T", "61.10", "2026-04-09", counterparty=close_name)])
    p = write_csv(tmp_path / "p.csv", PAY_HEADER, [pay("P3", "61.10", "2026-04-30", issued_on="2026-04-01",
                                                       payer=payer)])
    assert reconcile_files(t, p, tmp_path / "m.csv").links == 1

    with ws.connect() as con:
        ingest(con, account, [Txn(dt.date(2026, 4, 9), Decimal("61.10"), "EUR", "second", counterparty=close_name)],
               source="statement")
    reconcile_store(ws)
    assert all(row[0] != "matched" for row in _group_of(ws, "second"))
    rejected_id = list_aliases(ws, "rejected")["alias_id"][0]
    remove(ws, rejected_id, actor="erin")
    reconcile_store(ws)
    assert [row[:3] for row in _group_of(ws, "second") if row[0] == "matched"] == [("matched", "payer-amount", "P3")]


@pytest.mark.parametrize("same", ["Tyrell Umbrella 3693 GmbH", "TYRELL UMBRELLA GMBH 3693"])
def test_a_link_between_the_same_names_teaches_nothing(ws: Workspace, tmp_path: Path, same: str) -> None:
    _seed(ws, tmp_path, [pay("P1", "10.00", payer="Tyrell Umbrella 3693 GmbH")],
          [Txn(D, Decimal("9.00"), "EUR", "short", counterparty=same)])
    txn_id = _q(ws, "SELECT txn_id FROM transactions")[0][0]
    assert link(ws, [txn_id], ["P1"], actor="dana")["aliases_learned"] == []
    assert list_aliases(ws).is_empty()
