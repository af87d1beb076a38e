"""The explorer, driven as a person would: set filter fields, select rows, click buttons; then read the store."""

from __future__ import annotations

import datetime as dt
import html
import json
from decimal import Decimal

import pytest

from reconwb import accounts, connections
from reconwb.transactions import Txn, ingest
from reconwb.widgets.explorer import ReconciliationExplorer
from reconwb.workspace import Workspace


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
    return [value for _label, value in ex.deposits.options]


def _payment_ids(ex: ReconciliationExplorer) -> list[str]:
    return [value for _label, value in ex.payments.options]


def test_open_items_side_by_side_with_filters(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    assert set(_deposit_ids(ex)) == {t for (t,) in _q(review, "SELECT txn_id FROM transactions WHERE amount > 0")}
    assert set(_payment_ids(ex)) == {f"INV-{i}" for i in range(1, 8)}  # suggestions leave payments open
    other = next(v for label, v in ex.account.options if "ACC-OTHER" in label)
    ex.account.value = other
    ex.apply.click()
    assert set(_deposit_ids(ex)) == {_txn(review, "two invoices"), _txn(review, "CARD REFUND")}
    ex.clear.click()
    ex.text.value = "fjord"
    ex.apply.click()
    assert _deposit_ids(ex) == [_txn(review, "two invoices")]
    assert _payment_ids(ex) == ["INV-6", "INV-7"]
    ex.text.value = ""
    ex.amount_min.value, ex.amount_max.value = "99", "250.00"
    ex.apply.click()
    assert set(_deposit_ids(ex)) == {_txn(review, d) for d in ("credit", "Payment INV-2026-0003", "invoice")}
    assert set(_payment_ids(ex)) == {"INV-1", "INV-3", "INV-5", "INV-7"}
    ex.amount_min.value = ex.amount_max.value = ""
    ex.date_from.value = dt.date(2026, 3, 15)
    ex.apply.click()
    assert _deposit_ids(ex) == [_txn(review, "two invoices")]
    assert _payment_ids(ex) == ["INV-6", "INV-7"]  # payments filter on their due day


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
    assert (len(second), len(third)) == (10, 3)
    assert ex.deposit_pager.next.disabled and ex.deposit_pager.label.value == "page 3"
    assert len(set(first) | set(second) | set(third)) == 23  # newest first, no row twice
    ex.deposit_pager.prev.click()
    assert _deposit_ids(ex) == second


def test_suggestions_show_their_evidence_and_accept_records_the_actor(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    suggested = _suggested(review)
    best = max(suggested, key=suggested.get)
    card = ex.suggestion_rows.children[0]
    text = card.children[0].children[0].value + card.children[1].value
    assert best in text and f"{suggested[best]:.2f}" in text
    for field in ("reference", "amount", "payer", "date"):
        assert f"<th style='padding:0 6px'>{field}</th>" in text
    said = json.loads(_q(review, "SELECT evidence FROM match_groups WHERE group_id = ?", [best])[0][0])["explanation"]
    assert said and f"<i>why:</i> {html.escape(said)}</div>" in text  # the engine's words, as stored
    ex.note.value = "checked the remittance"
    ex.buttons[(best, "accept")].click()
    assert _q(review, "SELECT status, pinned FROM match_groups WHERE group_id = ?", [best]) == [("matched", True)]
    (actor, subject), = _audit(review, "match.accept")
    assert (actor, subject) == ("maria", f"match:{best}")
    assert "checked the remittance" in _q(review, "SELECT detail FROM audit_log WHERE action = 'match.accept'")[0][0]
    assert (best, "accept") not in ex.buttons  # the list was redrawn without it
    assert best in ex.match_rows.children[0].children[0].value
    assert html.escape(said) in ex.match_rows.children[0].children[0].value


def test_a_short_deposit_shows_the_fee_it_settles_and_accepting_pays_the_invoice(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    cards = {card.children[0].children[0].value: card for card in ex.suggestion_rows.children}
    text, = (t for t in cards if "INV-3" in t)  # 249.00 for 250.00: within the tolerance rule
    assert "(fee 1.00 withheld)" in text
    group_id, = _q(review, "SELECT group_id FROM matches WHERE payment_id = 'INV-3'")[0]
    ex.buttons[(group_id, "accept")].click()
    assert _q(review, "SELECT status FROM payments WHERE payment_id = 'INV-3'") == [("paid",)]
    (match,) = [t for t in _texts(ex.match_rows) if "INV-3" in t]
    assert "(fee 1.00 withheld)" in match


def _texts(widget) -> list[str]:
    """Every text value under `widget`, depth first."""
    own = [widget.value] if isinstance(getattr(widget, "value", None), str) else []
    return own + [t for child in getattr(widget, "children", ()) for t in _texts(child)]


def test_reject_is_recorded_and_not_suggested_again(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    group = min(_suggested(review), key=_suggested(review).get)
    ex.buttons[(group, "reject")].click()
    assert _q(review, "SELECT status FROM match_groups WHERE group_id = ?", [group]) == [("rejected",)]
    assert _audit(review, "match.reject") == [("maria", f"match:{group}")]
    assert (group, "accept") not in ex.buttons


def test_link_by_hand_then_unlink(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    deposit = _txn(review, "two invoices")
    ex.deposits.value = (deposit,)
    ex.payments.value = ("INV-6", "INV-7")
    ex.link_button.click()
    (group_id, kind, created_by), = _q(
        review, "SELECT group_id, kind, created_by FROM match_groups WHERE rule = 'manual'")
    assert (kind, created_by) == ("batch", "maria")
    assert _q(review, "SELECT payment_id, amount FROM matches WHERE group_id = ? ORDER BY 1", [group_id]) == [
        ("INV-6", Decimal("300.00")), ("INV-7", Decimal("200.00"))]
    assert _q(review, "SELECT status FROM payments WHERE payment_id IN ('INV-6', 'INV-7')") == [("paid",)] * 2
    assert _audit(review, "match.link") == [("maria", f"match:{group_id}")]
    assert deposit not in _deposit_ids(ex) and "INV-6" not in _payment_ids(ex)
    ex.buttons[(group_id, "unlink")].click()
    assert _q(review, "SELECT status FROM match_groups WHERE group_id = ?", [group_id]) == [("removed",)]
    assert _audit(review, "match.unlink") == [("maria", f"match:{group_id}")]
    assert deposit in _deposit_ids(ex) and {"INV-6", "INV-7"} <= set(_payment_ids(ex))


def test_link_refusals_are_shown_not_raised(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    ex.link_button.click()
    assert "Select at least one deposit" in ex.message.value
    ex.deposits.value = (_txn(review, "two invoices"), _txn(review, "CARD REFUND"))
    ex.payments.value = ("INV-6", "INV-7")
    ex.link_button.click()
    assert "one transaction to several payments" in ex.message.value
    assert _q(review, "SELECT count(*) FROM match_groups WHERE rule = 'manual'") == [(0,)]


@pytest.mark.parametrize("threshold", [0.93])
def test_bulk_accept_takes_everything_at_or_above_the_threshold(review: Workspace, threshold: float) -> None:
    before = _suggested(review)
    above = {g for g, c in before.items() if c >= threshold}
    assert above and len(above) < len(before)  # the books straddle the threshold
    ex = ReconciliationExplorer(review, actor="maria")
    ex.threshold.value = threshold
    ex.bulk_button.click()
    assert set(_suggested(review)) == set(before) - above
    matched = {g for (g,) in _q(review, "SELECT group_id FROM match_groups WHERE status = 'matched'")}
    assert matched == above
    assert {(a, s) for a, s in _audit(review, "match.accept")} == {("maria", f"match:{g}") for g in above}
    assert f"Accepted {len(above)} suggestion(s)" in ex.message.value


def test_plots_draw_when_their_tab_opens(review: Workspace) -> None:
    ex = ReconciliationExplorer(review)
    assert not ex.plots.drawn
    ex.tabs.selected_index = 3
    assert bytes(ex.plots.trend_image.value)[:4] == b"\x89PNG"
    assert bytes(ex.plots.ageing_image.value)[:4] == b"\x89PNG"


def test_evidence_of_a_manual_match_is_not_a_table() -> None:
    from reconwb.widgets.explorer import evidence_html

    assert "no field evidence" in evidence_html(json.dumps({"note": None, "by": "maria"}))
    shown = evidence_html(json.dumps({"by": "maria", "explanation": "linked by hand by maria <admin>"}))
    assert "<i>why:</i> linked by hand by maria &lt;admin&gt;" in shown


def test_filters_narrow_suggestions_and_bulk_accept_takes_only_what_is_shown(review: Workspace) -> None:
    before = _suggested(review)
    (blue,) = [g for (g,) in _q(review, "SELECT group_id FROM matches WHERE payment_id = 'INV-3'")]
    assert blue in before
    ex = ReconciliationExplorer(review, actor="maria")
    ex.text.value = "blue harbor"
    ex.apply.click()
    assert [k for k, kind in ex.buttons if kind == "accept"] == [blue]
    ex.threshold.value = 0.5
    ex.bulk_button.click()
    assert set(_suggested(review)) == set(before) - {blue}
    assert _audit(review, "match.accept") == [("maria", f"match:{blue}")]
    assert blue in ex.match_rows.children[0].children[0].value and len(ex.match_rows.children) == 1


def test_link_by_hand_with_the_write_off_box_settles_the_invoice(review: Workspace) -> None:
    ex = ReconciliationExplorer(review, actor="maria")
    ex.deposits.value = (_txn(review, "Payment INV-2026-0003"),)  # 249.00
    ex.payments.value = ("INV-3",)  # 250.00
    ex.write_off.value = True
    result = ex.link_selected()
    assert result is not None and result["links"][0]["fee"] == Decimal("1.00")
    assert _q(review, "SELECT status FROM payments WHERE payment_id = 'INV-3'") == [("paid",)]
    assert ex.write_off.value is False  # one decision per link, not a sticky mode
    assert "INV-3" not in _payment_ids(ex)
