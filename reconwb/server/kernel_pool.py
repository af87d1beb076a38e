"""A small pool of started, warmed kernels for Voila's dashboard pages (`reconwb serve`).

Most of a dashboard's first second used to go to starting a Python kernel and importing reconwb's widgets in it
(`bench/bench_dashboards.py` prints the split). Voila's own pre-heating does not apply here (as a server
extension it has no pool) and would be wrong anyway: it runs the whole notebook ahead of the request, so a page
would show the store as it was when the kernel warmed up. This pool stops one step earlier: its kernels are
started and have run only `WARM_CODE` (imports, no store read). When Voila asks for a kernel for a page, it gets
a pooled one, which is first told the request (Voila's environment variables: the query string `?refresh=`
reads, the page address) and the notebook's folder; then Voila runs the notebook in it as usual, so every page
shows the store as it is at request time. A replacement starts in the background.

Only Voila's page kernels are pooled (Voila marks them with `VOILA_PREHEAT=False`); JupyterLab's notebook
kernels start as before. Pooled kernels are never culled as idle (they are waiting on purpose).
"""

from __future__ import annotations

import asyncio
import json
import os
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Integer, Unicode

WARM_CODE = """\
import reconwb.widgets.banner_panel, reconwb.widgets.totals, reconwb.widgets.jobs_panel
import reconwb.widgets.delivery_panel, reconwb.widgets.auto_refresh, reconwb.widgets.status
import reconwb.widgets.account_selection, reconwb.widgets.add_connection, reconwb.widgets.explorer
import reconwb.widgets.shortcuts, reconwb.widgets.prefetch, reconwb.workspace
import reconwb.widgets.explorer as _explorer, reconwb.plots as _plots
_explorer._itable()  # the grid widget's module
_plots.png(_plots.Figure(figsize=(1, 1)))  # matplotlib's fonts and renderer, loaded on the first drawing
del _explorer, _plots
"""

# run in a pooled kernel when a page takes it: the request's environment and the notebook's folder, then the
# page's slowest read is started while the browser loads Voila's scripts (reconwb.widgets.prefetch)
ADOPT_CODE = """\
import os as _os, json as _json
_os.environ.update(_json.loads({env!r}))
_os.chdir({cwd!r})
import reconwb.widgets.prefetch as _prefetch
_prefetch.for_page(_os.environ.get("VOILA_REQUEST_URL"))
del _os, _json, _prefetch
"""


class ReadyClient(AsyncKernelClient):
    """A kernel client that is ready as soon as the kernel answered and IOPub is connected.

    jupyter_client's `wait_for_ready` then waits until IOPub stayed quiet for 0.2 s, which every page pays
    twice before its first cell runs (the pool's hand-out and Voila's executor): 0.4 s of a 1.5 s target on an
    idle kernel, more on a busy host. Messages already queued are dropped as before; later ones are told apart
    by their parent message id, as every reader of IOPub does anyway. `jupyter_config.py` makes it the client of
    every kernel the server starts.
    """

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (float("inf") if timeout is None else timeout)
        while True:
            asked = self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["parent_header"].get("msg_id") == asked:
                if await self._heard_on_iopub(asked):  # IOPub connected: it carried this request's status
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if loop.time() > give_up:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _heard_on_iopub(self, msg_id: str, within: float = 0.5) -> bool:
        """Whether IOPub carries a message of request `msg_id` within `within` seconds (its status)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + within
        while (left := until - loop.time()) > 0:
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False


class PooledKernelManager(AsyncMappingKernelManager):
    """`AsyncMappingKernelManager` that hands Voila page requests a pre-started, pre-imported kernel."""

    pool_size = Integer(2, config=True, help="warm kernels kept ready for dashboard pages (0: off)")
    warm_code = Unicode(WARM_CODE, config=True, help="what a pooled kernel runs before it is handed out")
    refill_quiet = Float(1.5, config=True,
                         help="seconds the page's kernel must have been quiet after its notebook ran before the"
                              " replacement starts")
    refill_within = Float(20.0, config=True, help="seconds after which the replacement starts in any case")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ready: dict[str, list[str]] = {}  # kernel name -> warm kernel ids
        self._warming: dict[str, int] = {}
        self._pooled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        if self.pool_size:  # fill as soon as the server's loop runs
            from tornado.ioloop import IOLoop

            IOLoop.current().add_callback(self._refill, self.default_kernel_name)

    async def start_kernel(self, *, kernel_id: str | None = None, path: str | None = None,
                           **kwargs: Any) -> str:
        env = kwargs.get("env") or {}
        name = kwargs.get("kernel_name") or self.default_kernel_name
        if kernel_id is None and self.pool_size and env.get("VOILA_PREHEAT") == "False":
            taken = self._take(name)
            if taken is None:
                self._refill_soon(name, None)
            else:
                try:
                    await self._adopt(taken, env, path)
                    self._refill_soon(name, taken)
                    return taken
                except Exception as err:  # a broken warm kernel: start one the usual way instead
                    self.log.warning("pooled kernel %s unusable (%s); starting a fresh one", taken, err)
                    await self.shutdown_kernel(taken, now=True)
                    self._refill_soon(name, None)
        return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)

    def _take(self, name: str) -> str | None:
        ready = self._ready.get(name, [])
        while ready:
            kernel_id = ready.pop(0)
            self._pooled.discard(kernel_id)
            if kernel_id in self:
                return kernel_id
        return None

    def _refill_soon(self, name: str, taken: str | None) -> None:
        """Start the replacement once the page that took kernel `taken` has run its notebook: warming one costs
        about two seconds of CPU (a kernel's start and the imports), which on two cores would otherwise be taken
        from that very page. With no kernel taken (the pool was empty), at once."""
        task = asyncio.ensure_future(self._refill_later(name, taken))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refill_later(self, name: str, taken: str | None) -> None:
        if taken is not None:
            await self._page_ran(taken)
        await self._refill(name)

    async def _page_ran(self, kernel_id: str) -> None:
        """Return once the page's kernel ran something and then stayed idle `refill_quiet` seconds (its notebook
        is done), or after `refill_within` seconds (a page that never asked, a notebook still running)."""
        from jupyter_server._tz import utcnow

        taken_at = utcnow()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.refill_within
        while loop.time() < give_up and kernel_id in self:
            kernel = self.get_kernel(kernel_id)
            last = getattr(kernel, "last_activity", taken_at)
            quiet = (utcnow() - last).total_seconds()
            if last > taken_at and quiet >= self.refill_quiet and getattr(kernel, "execution_state", "") == "idle":
                return
            await asyncio.sleep(0.25)

    async def _refill(self, name: str) -> None:
        while len(self._ready.get(name, [])) + self._warming.get(name, 0) < self.pool_size:
            self._warming[name] = self._warming.get(name, 0) + 1
            try:
                kernel_id = await super().start_kernel(kernel_name=name)
                self._pooled.add(kernel_id)
                await self._run(kernel_id, self.warm_code)
                self._ready.setdefault(name, []).append(kernel_id)
            except Exception as err:  # the pool is an optimisation: pages still start their own kernels
                self.log.warning("could not warm a kernel for the dashboard pool: %s", err)
                return
            finally:
                self._warming[name] -= 1

    async def _adopt(self, kernel_id: str, env: dict[str, str], path: str | None) -> None:
        """Tell a warm kernel the request it now serves: Voila's variables and the notebook's folder."""
        request = {k: str(v) for k, v in env.items() if os.environ.get(k) != v}
        cwd = self.cwd_for_path(path, env=env) if path is not None else self.root_dir
        await self._run(kernel_id, ADOPT_CODE.format(env=json.dumps(request), cwd=cwd))

    async def _run(self, kernel_id: str, code: str, timeout: float = 120) -> None:
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=timeout)
            reply = await client.execute_interactive(code, timeout=timeout, store_history=False,
                                                     output_hook=lambda _msg: None)
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"{reply['content'].get('ename', 'error')} in a pooled kernel")
        finally:
            client.stop_channels()

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if kernel_id in self._pooled:  # waiting on purpose
            return
        await super().cull_kernel_if_idle(kernel_id)
