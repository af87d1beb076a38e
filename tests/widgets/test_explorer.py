"""The explorer, driven as a person would: set filter fields, click rows, click buttons; then read the store."""

from __future__ import annotations

import datetime as dt
import html
import json
from decimal import Decimal

from reconwb import accounts, connections
from reconwb.transactions import Txn, ingest
from reconwb.widgets.explorer import ReconciliationExplorer, evidence_html
from reconwb.workspace import Workspace

RAW = ("None", "txn_amount", "payment_id", "confidence", "0.60")


def _q(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    with ws.connect() as con:
        return con.execute(sql, params or []).fetchall()


def _txn(ws: Workspace, description: str) -> int:
    return _q(ws, "SELECT txn_id FROM transactions WHERE description = ?", [description])[0][0]


def _suggested(ws: Workspace) -> dict[str, float]:
    return dict(_q(ws, "SELECT group_id, confidence FROM match_groups WHERE status = 'suggested'"))


def _audit(ws: Workspace, action: str) -> list[tuple]:
    return _q(ws, "SELECT actor, subject FROM audit_log WHERE action = ? ORDER BY audit_id", [action])


def _deposit_ids(ex: ReconciliationExplorer) -> list[int]:
    return [d.txn_id for d in ex.rows]


def _grid(ex: ReconciliationExplorer, which: str = "deposit") -> list[dict[str, str]]:
    return getattr(ex, f"{which}_grid").df.to_dicts()


def test_one_row_per_open_deposit_in_words_and_filters(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    assert set(_deposit_ids(ex)) == {t for (t,) in _q(review, "SELECT txn_id FROM transactions WHERE amount > 0")}
    rows = {r["Text"]: r for r in _grid(ex)}
    assert rows["two invoices"]["Amount"] == "€500.00" and rows["two invoices"]["Account"] == "ACC-OTHER (EUR)"
    suggested = rows["Payment INV-2026-0003"]  # 249.00 for INV-3's 250.00
    assert suggested["Status"].startswith("suggestion, ") and "INV-3 · Blue Harbor Ltd" in suggested["Best candidate"]
    assert rows["CARD REFUND"]["Status"] == "unmatched"
    assert not any(raw in " ".join(r.values()) for r in rows.values() for raw in RAW)
    other = next(v for label, v in ex.account.options if "ACC-OTHER" in label)
    ex.account.value = other
    ex.apply.click()
    assert set(_deposit_ids(ex)) == {_txn(review, "two invoices"), _txn(review, "CARD REFUND")}
    assert ex.account.value == other and ex.account.label.startswith("ACC-OTHER")  # not blank after Apply
    ex.clear.click()
    ex.text.value = "fjord"
    ex.apply.click()
    assert _deposit_ids(ex) == [_txn(review, "two invoices")]
    ex.text.value = ""
    ex.amount_min.value, ex.amount_max.value = "99", "250.00"
    ex.apply.click()
    assert set(_deposit_ids(ex)) == {_txn(review, d) for d in ("credit", "Payment INV-2026-0003", "invoice")}


def test_bad_filter_input_says_so_and_keeps_the_lists(review: Workspace) -> None:
    ex = ReconciliationExplorer(review)
    before = _deposit_ids(ex)
    ex.amount_min.value = "lots"
    ex.apply.click()
    assert "amount from 'lots' is not a number" in html.unescape(ex.message.value)
    ex.amount_min.value, ex.amount_max.value = "500", "10"
    ex.apply.click()
    assert "more than" in ex.message.value
    assert _deposit_ids(ex) == before


def test_paging_reads_one_page_at_a_time(ws: Workspace) -> None:
    with ws.connect() as con:
        conn = connections.add(con, "files1", "files")
        acc = accounts.ensure(con, conn.connection_id, "CH11", currency="CHF")
        ingest(con, acc, [Txn(dt.date(2026, 1, 1) + dt.timedelta(days=i), Decimal(f"{10 + i}.00"), "CHF", f"d{i}",
                              bank_txn_id=f"b{i}") for i in range(23)], source="statement")
    ex = ReconciliationExplorer(ws, page_size=10)
    first = _deposit_ids(ex)
    assert len(first) == 10 and ex.deposit_pager.prev.disabled and not ex.deposit_pager.next.disabled
    ex.deposit_pager.next.click()
    second = _deposit_ids(ex)
    ex.deposit_pager.next.click()
    third = _deposit_ids(ex)
    assert (len(second), len(third)) == (10, 3) and ex.deposit_pager.next.disabled
    assert len(set(first) | set(second) | set(third)) == 23  # newest first, no row twice


def test_selecting_a_suggested_deposit_preselects_its_payment_and_accept_is_audited(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    deposit = _txn(review, "Payment INV-2026-0003")
    ex.select_deposit(deposit)
    assert [r["payment_id"] for r in ex.selected_payments] == ["INV-3"]
    assert "€249.00 − 1 payment(s) €250.00 = <b class='reconwb-difference-amount'>-€1.00</b>" in ex.difference.value
    (group,) = [g for (g,) in _q(review, "SELECT group_id FROM matches WHERE payment_id = 'INV-3'")]
    said = json.loads(_q(review, "SELECT evidence FROM match_groups WHERE group_id = ?", [group])[0][0])["explanation"]
    assert said and said in {r["Text"]: r for r in _grid(ex)}["Payment INV-2026-0003"]["Why"]  # the engine's words
    ex.note.value = "checked the remittance"
    ex.accept_button.click()
    assert _q(review, "SELECT status, pinned FROM match_groups WHERE group_id = ?", [group]) == [("matched", True)]
    assert _audit(review, "match.accept") == [("maria", f"match:{group}")]
    assert "checked the remittance" in _q(review, "SELECT detail FROM audit_log WHERE action = 'match.accept'")[0][0]
    assert deposit not in _deposit_ids(ex) and "Suggestion accepted" in ex.message.value
    assert any("INV-3" in m.children[0].value for m in ex.match_rows.children)


def test_reject_is_recorded_and_not_suggested_again(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    group = min(_suggested(review), key=_suggested(review).get)
    (txn,) = [t for (t,) in _q(review, "SELECT txn_id FROM matches WHERE group_id = ?", [group])]
    ex.select_deposit(txn)
    ex.reject_button.click()
    assert _q(review, "SELECT status FROM match_groups WHERE group_id = ?", [group]) == [("rejected",)]
    assert _audit(review, "match.reject") == [("maria", f"match:{group}")]
    ex.select_deposit(txn)
    assert ex.accept_button.disabled  # no suggestion left on it


def test_search_two_payments_difference_reaches_zero_then_link_and_unlink(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    deposit = _txn(review, "two invoices")  # 500.00 from "Fjord Logistics"
    ex.select_deposit(deposit)
    ex.search.value = "fjord"
    ex.search_button.click()
    assert [r["Invoice"] for r in _grid(ex, "payment")] == ["INV-6", "INV-7"]
    ex.select_payments(["INV-6"])
    assert "= <b class='reconwb-difference-amount'>€200.00</b>" in ex.difference.value
    ex.select_payments(["INV-6", "INV-7"])
    assert "= <b class='reconwb-difference-amount'>€0.00</b>" in ex.difference.value
    ex.link_button.click()
    (group_id, kind, created_by), = _q(
        review, "SELECT group_id, kind, created_by FROM match_groups WHERE rule = 'manual'")
    assert (kind, created_by) == ("batch", "maria")
    assert _q(review, "SELECT status FROM payments WHERE payment_id IN ('INV-6', 'INV-7')") == [("paid",)] * 2
    assert _audit(review, "match.link") == [("maria", f"match:{group_id}")]
    assert deposit not in _deposit_ids(ex)
    ex.buttons[(group_id, "unlink")].click()
    assert _q(review, "SELECT status FROM match_groups WHERE group_id = ?", [group_id]) == [("removed",)]
    assert _audit(review, "match.unlink") == [("maria", f"match:{group_id}")]
    assert deposit in _deposit_ids(ex)


def test_link_refusals_are_shown_not_raised(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    assert ex.link_button.disabled
    assert ex.link_selected() is None and "Select a deposit" in ex.message.value
    with review.connect() as con:  # a CHF invoice for a EUR deposit
        con.execute("INSERT INTO payments (payment_id, amount, currency, issued_on, status, payer)"
                    " VALUES ('CHF-1', 500.00, 'CHF', DATE '2026-03-01', 'open', 'Fjord Logistics AS')")
    ex.select_deposit(_txn(review, "two invoices"))
    ex.search.value = "CHF-1"
    ex.search_button.click()
    assert _grid(ex, "payment") == []  # candidates are in the deposit's currency only
    assert _q(review, "SELECT count(*) FROM match_groups WHERE rule = 'manual'") == [(0,)]


def test_bulk_accept_previews_exactly_what_it_accepts_from_the_suggestion_band(review: Workspace) -> None:
    before = _suggested(review)
    ex = ReconciliationExplorer(review, actor="maria")
    assert ex.threshold.value == 0.5  # the suggestion band, not the automatic one (which would accept nothing)
    ex.threshold.value = 0.93
    above = {g for g, c in before.items() if c >= 0.93}
    assert above and len(above) < len(before)
    ex.preview_button.click()
    assert set(ex.previewed) == above and ex.confirm_button.description == f"Accept these {len(above)}"
    assert ex.preview.value.count("<tr>") == len(above) + 1  # one row per link, plus the header
    ex.threshold.value = 0.5  # changing the threshold forgets the preview: no accepting what was not shown
    assert ex.confirm_button.disabled
    ex.threshold.value = 0.93
    ex.preview_button.click()
    ex.confirm_button.click()
    assert set(_suggested(review)) == set(before) - above
    assert {(a, s) for a, s in _audit(review, "match.accept")} == {("maria", f"match:{g}") for g in above}
    assert f"Accepted {len(above)} suggestion(s)" in ex.message.value


def test_filters_narrow_the_bulk_preview(review: Workspace) -> None:
    (blue,) = [g for (g,) in _q(review, "SELECT group_id FROM matches WHERE payment_id = 'INV-3'")]
    ex = ReconciliationExplorer(review, actor="maria")
    ex.text.value = "blue harbor"
    ex.apply.click()
    assert ex.bulk_accept(0.5) == ([blue], [])
    assert _audit(review, "match.accept") == [("maria", f"match:{blue}")]


def test_write_off_settles_the_invoice(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    ex.select_deposit(_txn(review, "Payment INV-2026-0003"))  # 249.00 for 250.00, preselected
    ex.write_off.value = True
    result = ex.link_selected()
    assert result is not None and result["links"][0]["fee"] == Decimal("1.00")
    assert _q(review, "SELECT status FROM payments WHERE payment_id = 'INV-3'") == [("paid",)]
    assert ex.write_off.value is False  # one decision per link, not a sticky mode


def test_plots_draw_when_their_tab_opens(review: Workspace) -> None:
    ex = ReconciliationExplorer(review)
    assert not ex.plots.drawn
    ex.tabs.selected_index = 3
    assert bytes(ex.plots.trend_image.value)[:4] == b"\x89PNG"


def test_evidence_is_words() -> None:
    assert "no field evidence" in evidence_html(json.dumps({"note": None, "by": "maria"}))
    shown = evidence_html(json.dumps({"by": "maria", "explanation": "linked by hand by maria <admin>"}))
    assert "<i>why:</i> linked by hand by maria &lt;admin&gt;" in shown


def _split_case(ws: Workspace) -> tuple[int, int]:
    """An invoice of 450.00 paid in two parts (300.00 and 150.00) from an account the engine does not link."""
    with ws.connect() as con:
        con.execute("INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, status, payer, reference)"
                    " VALUES ('INV-9', 450.00, 'EUR', DATE '2026-03-01', DATE '2026-03-31', 'open', 'Gull Marine',"
                    " 'PO 7781')")
        conn = connections.add(con, "bank2", "files")
        acc = accounts.ensure(con, conn.connection_id, "ACC-THIRD", currency="EUR")
        ingest(con, acc, [Txn(dt.date(2026, 3, 28), Decimal("300.00"), "EUR", "part one", counterparty="Gull"),
                          Txn(dt.date(2026, 3, 29), Decimal("150.00"), "EUR", "part two", counterparty="Gull")],
               source="statement")
    return _txn(ws, "part one"), _txn(ws, "part two")


def test_several_deposits_one_payment_live_difference_and_one_link(review: Workspace) -> None:
    one, two = _split_case(review)
    ex = ReconciliationExplorer(review, actor="maria")
    ex.select_deposits([one, two])
    assert ex.selected_deposit is None and ex.accept_button.disabled  # a suggestion is one deposit's
    assert "2 deposits of €450.00 together" in ex.payment_title.value
    assert _grid(ex, "payment")[0]["Invoice"] == "INV-9"  # the open amount equal to their sum ranks first
    assert "same amount" in _grid(ex, "payment")[0]["Why it may fit"]
    ex.select_payments(["INV-9"])
    assert "2 deposits €450.00 − 1 payment(s) €450.00 = <b class='reconwb-difference-amount'>€0.00</b>" in \
        ex.difference.value
    ex.select_payments(["INV-9", "INV-1"])  # several with several is no link: said, and the button is off
    assert ex.link_button.disabled and "ONE payment" in ex.difference.value
    ex.select_payments(["INV-9"])
    ex.link_button.click()
    (group_id, kind), = _q(review, "SELECT group_id, kind FROM match_groups WHERE rule = 'manual'")
    assert kind == "split"
    assert sorted(t for (t,) in _q(review, "SELECT txn_id FROM matches WHERE group_id = ?", [group_id])) == \
        sorted([one, two])
    assert _q(review, "SELECT status FROM payments WHERE payment_id = 'INV-9'") == [("paid",)]
    assert _audit(review, "match.link") == [("maria", f"match:{group_id}")]
    assert "Linked 2 deposits of €450.00 to INV-9." in ex.message.value
    assert one not in _deposit_ids(ex) and two not in _deposit_ids(ex)


def test_keys_step_through_deposits_pick_candidates_and_decide(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    assert "<kbd>J</kbd> / <kbd>K</kbd> next / previous deposit" in ex.shortcuts.legend
    ex.shortcuts.press("j")
    assert ex.selected_deposit == ex.rows[0]
    ex.shortcuts.press("j")
    ex.shortcuts.press("j")
    ex.shortcuts.press("k")
    assert ex.selected_deposit == ex.rows[1]
    ex.shortcuts.press("k")
    ex.shortcuts.press("k")  # stays on the first row
    assert ex.selected_deposit == ex.rows[0]
    ex.select_deposit(_txn(review, "two invoices"))
    ex.search.value = "fjord"
    ex.search_button.click()
    assert [r["payment_id"] for r in ex.selected_payments] == ["INV-6", "INV-7"]  # the engine's suggestion
    ex.shortcuts.press("1")
    ex.shortcuts.press("2")
    assert ex.selected_payments == [] and ex.link_button.disabled
    ex.shortcuts.press("2")
    assert [r["payment_id"] for r in ex.selected_payments] == ["INV-7"]
    assert "= <b class='reconwb-difference-amount'>€300.00</b>" in ex.difference.value
    ex.shortcuts.press("1")
    ex.shortcuts.press("9")  # no ninth candidate: nothing happens
    ex.shortcuts.press("l")
    assert _audit(review, "match.link") and "Linked the deposit of €500.00" in ex.message.value
    deposit = _txn(review, "Payment INV-2026-0003")
    ex.select_deposit(deposit)
    ex.shortcuts.press("a")
    assert _audit(review, "match.accept") and deposit not in _deposit_ids(ex)


def test_the_deposit_line_says_what_is_shown(ws: Workspace) -> None:
    ex = ReconciliationExplorer(ws)
    assert "No open deposits: every deposit is reconciled." in ex.deposits_shown.value


def test_best_candidates_can_follow_the_rows(review: Workspace) -> None:
    """The dashboard draws the deposits first and their best candidates when found: the rows are usable at once
    and the candidates arrive without touching the selection."""
    import time

    ex = ReconciliationExplorer(review, actor="maria", best_later=True)
    refund = _txn(review, "CARD REFUND")
    ex.select_deposit(refund)
    deadline = time.monotonic() + 20
    while any(r["Best candidate"] == "looking…" for r in _grid(ex)) and time.monotonic() < deadline:
        time.sleep(0.05)
    later = _grid(ex)
    assert later == _grid(ReconciliationExplorer(review))  # what the explorer shows when it reads them at once
    assert [r["Best candidate"] for r in later if r["Text"] == "CARD REFUND"][0].startswith("INV-")
    assert ex.selected_deposit is not None and ex.selected_deposit.txn_id == refund


def test_the_first_view_waits_for_neither_the_candidates_grid_nor_the_matches(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    assert ex._payment_grid is None and ex.payment_slot.children == ()  # no second 0.7 MB grid yet
    assert ex.match_rows.children == ()
    ex.tabs.selected_index = 2
    assert ex.match_rows.children and "No matches yet" in ex.match_rows.children[0].value  # engine: suggestions
    ex.select_deposit(_txn(review, "two invoices"))
    assert ex.payment_slot.children == (ex.payment_grid,) and _grid(ex, "payment")
