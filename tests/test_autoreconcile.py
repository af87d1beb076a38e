"""Reconcile mode reconciles every ingest's new deposits right after landing them (a real store, real engine).

The portal paths (CLI sync, Run now, reconnect against the simulated bank in Chromium) are in
tests/connectors/test_portal_loop.py; these drive the in-process ledger connector and statement files.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from reconwb import autoreconcile, payments, settings, sync
from reconwb.statements.importer import import_file
from reconwb.transactions import Txn
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password

TODAY = dt.date.today()


def _payments(ws: Workspace, tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    path = tmp_path / "payments.csv"
    lines = ["payment_id,amount,currency,issued_on,due_on,reference,payer"]
    lines += [f"{pid},{amount},EUR,{TODAY - dt.timedelta(days=20)},{TODAY - dt.timedelta(days=2)},{ref},Someone"
              for pid, amount, ref in rows]
    path.write_text("\n".join(lines) + "\n")
    with ws.connect() as con:
        payments.import_file(con, path)


def _endpoint(ws: Workspace) -> None:
    from reconwb.webhooks import endpoints

    with ws.connect() as con:
        endpoints.add(con, ws.vault(), "http://127.0.0.1:9/hook", auth="bearer", token="tok-123456")


def _state(ws: Workspace) -> dict[str, str]:
    with ws.connect() as con:
        return dict(con.execute(
            "SELECT t.reference, coalesce(max(g.status), 'unmatched') FROM transactions t"
            " LEFT JOIN matches x USING (txn_id) LEFT JOIN match_groups g USING (group_id)"
            " WHERE t.amount > 0 GROUP BY 1").fetchall())


def _queued_webhooks(ws: Workspace, kind: str) -> list[str]:
    with ws.connect() as con:
        return [r[0] for r in con.execute(
            "SELECT e.subject FROM webhook_deliveries d JOIN events e USING (event_id) WHERE e.type = ?"
            " AND d.status = 'pending' ORDER BY 1", [kind]).fetchall()]


@pytest.fixture
def ledger_books(ledger: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr(LedgerBank, "ledger", [
        Txn(TODAY - dt.timedelta(days=1), Decimal("120.00"), "EUR", "Payment INV-7001", "INV-7001", "Acme",
            bank_txn_id="b1"),
        Txn(TODAY - dt.timedelta(days=1), Decimal("75.10"), "EUR", "Payment INV-7002", "INV-7002", "Blue",
            bank_txn_id="b2"),
        Txn(TODAY, Decimal("33.00"), "EUR", "Payment INV-7003", "INV-7003", "Cedar", status="pending"),
        Txn(TODAY - dt.timedelta(days=1), Decimal("-40.00"), "EUR", "rent", bank_txn_id="b4"),
    ])
    _payments(ledger, tmp_path, [("INV-7001", "120.00", "INV-7001"), ("INV-7002", "75.10", "INV-7002"),
                                 ("INV-7003", "33.00", "INV-7003"), ("INV-7009", "999.00", "INV-7009")])
    _endpoint(ledger)
    set_password(ledger, LedgerBank.password)
    return ledger


def test_a_fetch_reconciles_what_it_brought_and_queues_the_webhooks(ledger_books: Workspace) -> None:
    result = sync.sync(ledger_books, "c1")
    assert (result.status, result.inserted) == ("ok", 4)
    assert _state(ledger_books) == {"INV-7001": "matched", "INV-7002": "matched", "INV-7003": "unmatched"}
    assert _queued_webhooks(ledger_books, "payment.matched") == ["payment:INV-7001", "payment:INV-7002"]
    assert autoreconcile.queued(ledger_books) == 0
    with ledger_books.connect() as con:
        statuses = dict(con.execute("SELECT payment_id, status FROM payments").fetchall())
    assert statuses == {"INV-7001": "paid", "INV-7002": "paid", "INV-7003": "open", "INV-7009": "open"}


def test_the_pending_line_is_reconciled_once_the_bank_books_it(ledger_books: Workspace,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sync.sync(ledger_books, "c1")
    booked = [t for t in LedgerBank.ledger if t.status == "booked"] + [
        Txn(TODAY, Decimal("33.00"), "EUR", "Payment INV-7003", "INV-7003", "Cedar", bank_txn_id="b3")]
    monkeypatch.setattr(LedgerBank, "ledger", booked)
    second = sync.sync(ledger_books, "c1")
    assert (second.inserted, second.updated) == (0, 1)  # the same row, now booked
    assert _state(ledger_books)["INV-7003"] == "matched"
    with ledger_books.connect() as con:
        assert con.execute("SELECT count(*) FROM transactions WHERE reference = 'INV-7003'").fetchall() == [(1,)]
    assert _queued_webhooks(ledger_books, "payment.matched")[-1] == "payment:INV-7003"


def test_switched_off_or_passthrough_nothing_is_reconciled(ledger_books: Workspace) -> None:
    with ledger_books.connect() as con:
        settings.set_value(con, "auto_reconcile", "false")
    sync.sync(ledger_books, "c1")
    assert set(_state(ledger_books).values()) == {"unmatched"}
    assert autoreconcile.queued(ledger_books) == 0
    report = autoreconcile.reconcile_now(ledger_books)  # the button still works
    assert report.matched == 2
    assert _state(ledger_books)["INV-7001"] == "matched"


def test_incremental_run_reads_only_the_new_deposits(ledger_books: Workspace) -> None:
    """An older unmatched deposit is not touched by the run that follows a later ingest."""
    with ledger_books.connect() as con:
        settings.set_value(con, "auto_reconcile", "false")
    sync.sync(ledger_books, "c1")  # lands INV-7001/7002 unreconciled
    with ledger_books.connect() as con:
        settings.set_value(con, "auto_reconcile", "true")
        con.execute("INSERT INTO reconcile_queue (txn_id) SELECT txn_id FROM transactions WHERE reference = 'INV-7002'")
    report = autoreconcile.after_ingest(ledger_books)
    assert report is not None and report.transactions == 1 and report.matched == 1
    assert _state(ledger_books) == {"INV-7001": "unmatched", "INV-7002": "matched", "INV-7003": "unmatched"}


def test_a_statement_import_is_reconciled_by_the_cli(ws: Workspace, tmp_path: Path, run_cli) -> None:
    _payments(ws, tmp_path, [("INV-8001", "250.00", "INV-8001"), ("INV-8002", "10.00", "INV-8002")])
    statement = tmp_path / "st.csv"
    statement.write_text(
        "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty\n"
        f"s1,DE89370400440532013000,{TODAY},250.00,EUR,Payment,INV-8001,Acme\n"
        f"s2,DE89370400440532013000,{TODAY},10.00,EUR,Payment,INV-8002,Acme\n"
    )
    done = run_cli("statements", "import", str(statement), "--connection", "files", "--json", check=True)
    assert '"imported": 2' in done.stdout
    assert set(_state(ws).values()) == {"matched"}
    assert autoreconcile.queued(ws) == 0


def test_an_import_through_the_package_leaves_its_deposits_queued_until_after_ingest(ws: Workspace,
                                                                                    tmp_path: Path) -> None:
    _payments(ws, tmp_path, [("INV-8101", "19.99", "INV-8101")])
    statement = tmp_path / "st.csv"
    statement.write_text(
        "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty\n"
        f"s1,ACC-1,{TODAY},19.99,EUR,Payment,INV-8101,Acme\n"
    )
    with ws.connect() as con:
        import_file(con, statement, "files")
    assert autoreconcile.queued(ws) == 1  # committed with the ingest: a crash here would lose nothing
    report = autoreconcile.after_ingest(ws)
    assert report is not None and report.matched == 1
    assert autoreconcile.after_ingest(ws) is None


# -- against the simulated bank portal, with the real Chromium -------------------------------------------------


def _scenario_payments(ws: Workspace, tmp_path: Path, bank, usernames: list[str]) -> dict[str, str]:
    """One open payment per deposit that quotes a reference (pending ones too), exact amount: {reference: status}."""
    from tests.portal_support import login

    rows, lines = {}, ["payment_id,amount,currency,issued_on,due_on,reference,payer"]
    for username in usernames:
        for t in login(bank, username)["transactions"]:
            if Decimal(t["amount"]) > 0 and t["reference"]:
                rows[t["reference"]] = t["status"]
                lines.append(f"P-{t['reference']},{t['amount']},{t['currency']},{TODAY - dt.timedelta(days=90)},"
                             f"{t['booked_on']},{t['reference']},{t['counterparty']}")
    path = tmp_path / f"payments-{'-'.join(usernames)}.csv"
    path.write_text("\n".join(lines) + "\n")
    with ws.connect() as con:
        payments.import_file(con, path)
    return rows


def _deposits(ws: Workspace) -> dict[str, tuple[int, str, str]]:
    """{reference: (txn_id, bank status, match state)} of every stored deposit."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT t.reference, t.txn_id, t.status, coalesce(max(g.status), 'unmatched') FROM transactions t"
            " LEFT JOIN matches x USING (txn_id) LEFT JOIN match_groups g USING (group_id)"
            " WHERE t.amount > 0 GROUP BY ALL").fetchall()
    return {ref: (txn_id, status, state) for ref, txn_id, status, state in rows}


@pytest.mark.browser
def test_plain_cli_sync_reconciles_and_pending_lines_wait_for_booking(ws: Workspace, tmp_path: Path, run_cli) -> None:
    from reconwb import reports
    from tests.portal_support import add_connection, sim_bank

    bank = sim_bank()
    add_connection(ws, bank, "alice")
    expected = _scenario_payments(ws, tmp_path, bank, ["alice"])
    _endpoint(ws)
    assert "pending" in expected.values() and "booked" in expected.values()

    done = run_cli("sync", "alice")
    assert done.returncode == 0, done.stderr
    stored = _deposits(ws)
    assert stored.keys() == expected.keys()
    booked = sorted(ref for ref, status in expected.items() if status == "booked")
    pending = sorted(ref for ref, status in expected.items() if status == "pending")
    assert sorted(ref for ref, (_id, _s, state) in stored.items() if state == "matched") == booked
    assert all(stored[ref][1:] == ("pending", "unmatched") for ref in pending)  # stored, not matched
    assert _queued_webhooks(ws, "payment.matched") == sorted(f"payment:P-{ref}" for ref in booked)
    numbers = reports.headline(ws)
    assert (numbers["deposits_unmatched"], numbers["deposits_pending"]) == (0, len(pending))

    posted = bank.admin("post_pending", {"username": "alice"})["posted"]
    assert posted >= len(pending)
    done = run_cli("sync", "alice")
    assert done.returncode == 0, done.stderr
    after = _deposits(ws)
    assert all(after[ref] == (stored[ref][0], "booked", "matched") for ref in pending)  # the same row, booked
    assert len(after) == len(stored)
    assert reports.headline(ws)["deposits_pending"] == 0
    assert _queued_webhooks(ws, "payment.matched") == sorted(f"payment:P-{ref}" for ref in expected)


@pytest.mark.browser
def test_run_now_and_reconnect_reconcile_what_they_fetch(ws: Workspace, tmp_path: Path) -> None:
    from reconwb import connections
    from reconwb.widgets.banner_panel import BannerPanel
    from reconwb.widgets.credentials import CredentialForm
    from reconwb.widgets.status import ConnectionStatusTable
    from tests.portal_support import add_connection, sim_bank

    bank = sim_bank()
    add_connection(ws, bank, "grace")
    add_connection(ws, bank, "gus", password="Gus-typo-2026")
    expected = _scenario_payments(ws, tmp_path, bank, ["grace", "gus"])
    table = ConnectionStatusTable(ws)
    table.run_now("grace")
    assert "grace: ok" in table.message.value
    # a reconnect: the bank rejects the stored password, a person enters the right one on the credential form
    BannerPanel(ws).act("Reconnect", "gus")
    form = CredentialForm(ws, "gus")
    form.password.value = "Gus-pw-2026"
    form.save.click()
    if getattr(form, "check", None) is not None:  # a form that asks the bank itself (a background fetch)
        assert form.check.finished.wait(120)
    else:  # saving leaves the connection refreshing; the banner's Reconnect fetches
        panel = BannerPanel(ws)
        panel.buttons[("gus", "Reconnect")].click()
        assert "gus reconnected" in panel.message.value
    with ws.connect() as con:
        assert connections.get(con, "gus").health == "ok"
    stored = _deposits(ws)
    assert stored.keys() == expected.keys()
    for ref, status in expected.items():
        assert stored[ref][2] == ("matched" if status == "booked" else "unmatched"), ref
