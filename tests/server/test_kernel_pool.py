"""The dashboard kernel pool with real kernels: warm kernels have the widgets imported but have read nothing, and a
page's kernel learns its request (query string, folder) before Voila runs the notebook in it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconwb.server.kernel_pool import PooledKernelManager

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
        km = PooledKernelManager(root_dir=str(tmp_path), pool_size=1,
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
