from __future__ import annotations

from reconwb import reports
from reconwb.webhooks import deliver_due, endpoints
from reconwb.widgets.delivery_panel import DeliveryPanel
from reconwb.workspace import Workspace
from tests.webhooks.conftest import emit_many
from tests.webhooks.receiver import Receiver, Reply


def test_panel_separates_healthy_failing_and_disabled_endpoints(ws: Workspace) -> None:
    with Receiver() as good, Receiver(lambda _r: Reply(500, b"nope")) as bad:
        with ws.connect() as con:
            ok, _ = endpoints.add(con, ws.vault(), good.url + "/hook?sig=tok-in-url", auth="none", token=None)
            failing, _ = endpoints.add(con, ws.vault(), bad.url, auth="bearer", token="tok-Secret-123")
            off, _ = endpoints.add(con, ws.vault(), "https://example.invalid/x?key=pw-in-url", auth="none",
                                   token=None)
            endpoints.set_enabled(con, off.endpoint_id, False, "paused by ops")
        emit_many(ws, 3)
        deliver_due(ws)
    health = {r["endpoint_id"]: r for r in reports.delivery_health(ws).iter_rows(named=True)}
    assert health[ok.endpoint_id]["health"] == "healthy" and health[ok.endpoint_id]["delivered"] == 3
    assert health[failing.endpoint_id]["health"] == "failing"
    assert health[failing.endpoint_id]["pending"] == 3 and health[failing.endpoint_id]["succeeded"] == 0
    assert health[off.endpoint_id]["health"] == "disabled" and health[off.endpoint_id]["attempts"] == 0
    panel = DeliveryPanel(ws)
    assert "1 failing, 1 disabled" in panel.verdict.value and "3 message(s) waiting" in panel.verdict.value
    page = panel.verdict.value + panel.table.value
    assert "paused by ops" in page
    for secret in ("tok-in-url", "pw-in-url", "tok-Secret-123"):
        assert secret not in page


def test_no_endpoint_and_all_healthy(ws: Workspace) -> None:
    assert "No webhook endpoint is configured." in DeliveryPanel(ws).verdict.value
    with Receiver() as good:
        with ws.connect() as con:
            endpoints.add(con, ws.vault(), good.url, auth="none", token=None)
        emit_many(ws, 2)
        deliver_due(ws)
    assert "All 1 webhook endpoint(s) healthy; 0 message(s) waiting." in DeliveryPanel(ws).verdict.value
