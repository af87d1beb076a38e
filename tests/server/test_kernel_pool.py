"""The dashboard kernel pool with real kernels: warm kernels have the widgets imported but have read nothing, and a
page's kernel learns its request (query string, folder) before Voila runs the notebook in it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconwb import accounts, connections
from reconwb.cli.admin import init_workspace
from reconwb.server.kernel_pool import WARM_CODE, PooledKernelManager
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace

pytestmark = pytest.mark.kernel


async def _ask(km: PooledKernelManager, kernel_id: str, expression: str) -> str:
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    seen: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)
        await client.execute_interactive(
            f"print({expression})", timeout=60,
            output_hook=lambda m: seen.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        client.stop_channels()
    return "".join(seen).strip()


def test_a_page_gets_a_warm_kernel_that_knows_its_request(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()

    async def scenario() -> None:
        km = PooledKernelManager(root_dir=str(tmp_path), pool_size=1, refill_within=0,
                                 warm_code="import reconwb.widgets.banner_panel")
        try:
            await km._refill(km.default_kernel_name)
            (warm,) = km._ready[km.default_kernel_name]
            assert await _ask(km, warm, "'reconwb.widgets.banner_panel' in __import__('sys').modules") == "True"
            assert await _ask(km, warm, "__import__('os').environ.get('QUERY_STRING')") == "None"
            page = await km.start_kernel(kernel_name=km.default_kernel_name, path="dashboards",
                                         env={"VOILA_PREHEAT": "False", "QUERY_STRING": "refresh=7&token=x"})
            assert page == warm  # handed out, not started
            assert await _ask(km, page, "__import__('os').environ['QUERY_STRING']") == "refresh=7&token=x"
            assert await _ask(km, page, "__import__('os').getcwd()") == str(tmp_path / "dashboards")
            notebook = await km.start_kernel(kernel_name=km.default_kernel_name)  # JupyterLab's: not pooled
            assert notebook != page
            await asyncio.gather(*km._tasks)
            assert len(km._ready[km.default_kernel_name]) == 1 and page not in km._ready[km.default_kernel_name]
        finally:
            await km.shutdown_all(now=True)

    asyncio.run(scenario())


def test_the_reconciliation_page_reads_its_totals_at_request_time_not_at_warm_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel warmed with every panel's imports before the deposit existed; the page asked for afterwards
    shows it: the totals were read (in the background) when the page was asked for."""
    import datetime as dt
    from decimal import Decimal

    ws = Workspace(db_path=tmp_path / "data" / "reconwb.duckdb")
    init_workspace(ws)
    monkeypatch.setenv("RECONWB_DB", str(ws.db_path))  # the server's environment, which kernels inherit
    (tmp_path / "dashboards").mkdir()

    async def scenario() -> None:
        km = PooledKernelManager(root_dir=str(tmp_path), pool_size=1, refill_within=0, warm_code=WARM_CODE)
        try:
            await km._refill(km.default_kernel_name)
            (warm,) = km._ready[km.default_kernel_name]
            assert await _ask(km, warm, "'matplotlib.figure' in __import__('sys').modules") == "True"
            with ws.connect() as con:
                conn = connections.add(con, "files1", "files")
                acc = accounts.ensure(con, conn.connection_id, "CH11", currency="CHF")
                ingest(con, acc, [Txn(dt.date(2026, 1, 5), Decimal("123.45"), "CHF", "after warm-up")],
                       source="statement")
            url = "http://127.0.0.1:1/voila/render/dashboards/reconciliation.ipynb?token=x"
            page = await km.start_kernel(kernel_name=km.default_kernel_name, path="dashboards",
                                         env={"VOILA_PREHEAT": "False", "VOILA_REQUEST_URL": url})
            assert page == warm
            taken = ("__import__('reconwb.widgets.prefetch').widgets.prefetch.take("
                     "'totals:' + __import__('os').environ['RECONWB_DB'], lambda: None)")
            assert await _ask(km, page, f"{taken}.money['deposits_amount'].to_list()") == "[Decimal('123.450')]"
        finally:
            await km.shutdown_all(now=True)

    asyncio.run(scenario())


def test_a_ready_client_is_ready_without_waiting_for_a_quiet_iopub(tmp_path: Path) -> None:
    """ReadyClient (every client of `reconwb serve`): ready once the kernel answered and IOPub carries its
    messages, and then nothing of what the kernel says is lost."""
    from jupyter_client.manager import AsyncKernelManager

    from reconwb.server.kernel_pool import ReadyClient

    async def scenario() -> None:
        km = AsyncKernelManager(client_class="reconwb.server.kernel_pool.ReadyClient")
        await km.start_kernel()
        try:
            for _ in range(3):  # a fresh client each time, as the pool and Voila's executor make them
                client = km.client()
                assert isinstance(client, ReadyClient)
                client.start_channels()
                seen: list[str] = []
                try:
                    await client.wait_for_ready(timeout=60)
                    reply = await client.execute_interactive(
                        "print('ready', 6 * 7)", timeout=60,
                        output_hook=lambda m: seen.append(m["content"].get("text", ""))
                        if m["msg_type"] == "stream" else None)
                finally:
                    client.stop_channels()
                assert reply["content"]["status"] == "ok" and "".join(seen).strip() == "ready 42"
        finally:
            await km.shutdown_kernel(now=True)

    asyncio.run(scenario())
