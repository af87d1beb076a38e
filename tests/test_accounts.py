"""One bank account is one account: identities, links across connections and statement files, no doubles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from reconwb import accounts, banks, connections, sync
from reconwb.statements.importer import import_file
from reconwb.transactions import export_csv
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, LedgerConnector, set_password

IBAN = "DE89 3704 0044 0532 0130 00"
TODAY = dt.date.today()


def _statement(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["txn_id,account_id,booked_on,amount,currency,description,reference,counterparty"]
    lines += [f"{txn_id},{account},{TODAY},{amount},EUR,{ref},{ref},Payer" for txn_id, account, amount, ref in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(ws: Workspace, sql: str) -> int:
    with ws.connect() as con:
        return con.execute(sql).fetchall()[0][0]


def test_identity_prefers_the_iban_then_bank_and_number(ledger: Workspace) -> None:
    with ledger.connect() as con:
        banks.ensure_statement_bank(con)
        files = connections.add(con, "files", banks.STATEMENT_BANK).connection_id
        c1 = connections.get(con, "c1").connection_id
        assert accounts.identity(con, c1, "x", IBAN.lower()) == "iban:DE89370400440532013000"
        assert accounts.identity(con, files, IBAN, None) == "iban:DE89370400440532013000"
        assert accounts.identity(con, c1, "0532 013000", None) == "acct:ledger:0532013000"
        assert accounts.identity(con, files, "0532013000", None) == f"ref:{files}:0532013000"
        assert accounts.identity(con, c1, "DE89370400440532013001", None).startswith("acct:")  # bad check digits


def test_a_statement_of_a_fetched_account_lands_on_it_without_doubles(ledger: Workspace, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from reconwb.connectors.base import AccountInfo
    from reconwb.transactions import Txn

    async def with_iban(self) -> list[AccountInfo]:
        return [AccountInfo("MAIN-1", "Main", iban=IBAN, currency="EUR")]

    monkeypatch.setattr(LedgerConnector, "accounts", with_iban)
    monkeypatch.setattr(LedgerBank, "ledger", [
        Txn(TODAY, Decimal("10.00"), "EUR", "A", "A", bank_txn_id="bank-1"),
        Txn(TODAY, Decimal("20.00"), "EUR", "B", "B"),  # no bank id: fingerprinted
    ])
    set_password(ledger, LedgerBank.password)
    assert sync.sync(ledger, "c1").inserted == 2
    export = tmp_path / "export.csv"
    with ledger.connect() as con:
        assert export_csv(con, str(export)) == 2
        result = import_file(con, export, "other-source")
        assert (result.imported, result.duplicates) == (0, 2)
        assert any("already known through connection 'c1'" in w for w in result.warnings)
        # the same IBAN written another way in a hand-made file, with one line the bank has not shown yet
        again = import_file(con, _statement(tmp_path / "hand.csv", [
            ("bank-1", IBAN.replace(" ", "").lower(), "10.00", "A"), ("bank-9", IBAN, "30.00", "C")]), "other-source")
        assert (again.imported, again.duplicates) == (1, 1)
        other = connections.get(con, "other-source").connection_id
        assert [(ref, owner) for ref, _id, owner in accounts.linked(con, other)] == [
            (IBAN, "c1"), ("DE89370400440532013000", "c1"), ("de89370400440532013000", "c1")]
    assert _count(ledger, "SELECT count(*) FROM accounts") == 1
    assert _count(ledger, "SELECT count(*) FROM transactions") == 3
    # and the fetch after the import does not double what the file brought either
    assert sync.sync(ledger, "c1").inserted == 0


def test_files_without_an_iban_keep_their_own_accounts(ws: Workspace, tmp_path: Path) -> None:
    with ws.connect() as con:
        import_file(con, _statement(tmp_path / "a.csv", [("a1", "ACC-1", "5.00", "X")]), "files-a")
        result = import_file(con, _statement(tmp_path / "b.csv", [("a1", "ACC-1", "5.00", "X")]), "files-b")
    assert result.imported == 1 and not result.warnings  # two sources, nothing says they are the same account
    assert _count(ws, "SELECT count(*) FROM accounts") == 2


def test_a_removed_owner_no_longer_captures_the_identity(ws: Workspace, tmp_path: Path) -> None:
    with ws.connect() as con:
        import_file(con, _statement(tmp_path / "a.csv", [("a1", IBAN, "5.00", "X")]), "files-a")
        con.execute("UPDATE connections SET removed_at = now() WHERE name = 'files-a'")
        result = import_file(con, _statement(tmp_path / "b.csv", [("a1", IBAN, "5.00", "X")]), "files-b")
    assert (result.imported, result.warnings) == (1, [])


@pytest.mark.browser
def test_a_portal_account_and_its_exported_statement_are_one_account(ws: Workspace, tmp_path: Path, run_cli) -> None:
    import json

    from reconwb.sim.sample import connect_login
    from tests.portal_support import add_connection, run_sync, sim_bank

    bank = sim_bank()
    add_connection(ws, bank, "erin")  # three accounts
    first = run_sync(ws, "erin")
    assert first.status == "ok" and first.inserted > 0
    export = tmp_path / "erin.csv"
    run_cli("transactions", "export", "--connection", "erin", "--out", str(export), check=True)
    done = run_cli("statements", "import", str(export), "--connection", "erin-file", "--json", check=True)
    result = json.loads(done.stdout)
    booked = _count(ws, "SELECT count(*) FROM transactions WHERE status = 'booked'")
    assert 0 < booked < first.inserted  # erin's accounts have pending lines: a statement lists booked ones
    assert (result["imported"], result["duplicates"], result["updated"]) == (0, booked, 0)
    assert any("already known through connection 'erin'" in w for w in result["warnings"])
    text = run_cli("statements", "import", str(export), "--connection", "erin-file", check=True)
    assert f"0 imported, {booked} duplicates" in text.stdout and "warning: account CH" in text.stderr
    # a second login to the same bank account (the getting-started notebook does this) doubles nothing either
    connect_login(ws, bank, "erin", name="erin-again")
    again = run_sync(ws, "erin-again")
    assert (again.status, again.inserted) == ("ok", 0)
    assert _count(ws, "SELECT count(*) FROM accounts") == 3
    assert _count(ws, "SELECT count(*) FROM transactions") == first.inserted


def test_adding_a_second_connection_to_the_same_login_says_so(ledger: Workspace, run_cli) -> None:
    import json

    from reconwb.widgets.add_connection import AddConnectionForm

    done = run_cli("connections", "add", "c2", "--bank", "ledger", "--username", "U", "--json", check=True)
    assert json.loads(done.stdout)["shares_accounts_with"] == ["c1"]
    assert done.stderr.startswith("note: connection 'c1' already logs in") and done.stderr.count("\n") == 1
    other = run_cli("connections", "add", "c3", "--bank", "ledger", "--username", "someone-else", check=True)
    assert other.stderr == ""
    form = AddConnectionForm(ledger)
    form.bank.value, form.name.value, form.username.value = "ledger", "c4", "u"
    form.add.click()
    assert "Added c4" in form.message.value and "&#x27;c1&#x27;, &#x27;c2&#x27;" in form.message.value


def test_a_statement_with_its_own_ids_doubles_no_line_a_fetch_stored(ledger: Workspace, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from reconwb.connectors.base import AccountInfo
    from reconwb.transactions import Txn

    async def with_iban(self) -> list[AccountInfo]:
        return [AccountInfo(IBAN.replace(" ", ""), "Main", iban=IBAN, currency="EUR")]

    monkeypatch.setattr(LedgerConnector, "accounts", with_iban)
    monkeypatch.setattr(LedgerBank, "ledger", [
        Txn(TODAY, Decimal("10.00"), "EUR", "A", "INV-1", bank_txn_id="portal-1"),
        Txn(TODAY, Decimal("49.00"), "EUR", "card", "", bank_txn_id="portal-2"),
    ])
    set_password(ledger, LedgerBank.password)
    assert sync.sync(ledger, "c1").inserted == 2
    # the bank's statement numbers its lines its own way, and has two 49.00 card lines that day
    statement = _statement(tmp_path / "camt-like.csv", [
        ("STMT-9", IBAN, "10.00", "INV 1"), ("STMT-10", IBAN, "49.00", ""), ("STMT-11", IBAN, "49.00", "")])
    with ledger.connect() as con:
        first = import_file(con, statement, "statements")
        again = import_file(con, statement, "statements")
    assert (first.imported, first.duplicates) == (1, 2)  # only the second 49.00 is new
    assert (again.imported, again.duplicates) == (0, 3)
    assert _count(ledger, "SELECT count(*) FROM transactions") == 3
    assert sync.sync(ledger, "c1").inserted == 0  # and the next fetch does not double the statement's line
