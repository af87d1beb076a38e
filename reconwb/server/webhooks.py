"""`POST /reconwb/webhooks/<source>`: inbound webhooks, checked by signature instead of the Jupyter token.

Webhooks come from outside and cannot carry the server's token or an XSRF cookie, so the handler is exempt from
both; what protects it is the Standard Webhooks signature with the source's secret, checked in constant time
with a timestamp tolerance (`reconwb.webhooks.inbound.receive`). The answer is sent as soon as the raw event is
stored; processing runs afterwards, off the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join

from reconwb.redaction import install as install_redaction
from reconwb.redaction import redact_exception
from reconwb.webhooks import inbound
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

ROUTE = r"/reconwb/webhooks/([^/]+)"


class InboundWebhookHandler(JupyterHandler):
    """Verify, store, answer; then process in the background."""

    def initialize(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def check_xsrf_cookie(self) -> None:
        """No cookie-based session here: the signature is the authentication."""

    @allow_unauthenticated
    async def post(self, source: str) -> None:
        headers = {k: v for k, v in self.request.headers.items()}
        try:
            result = await asyncio.to_thread(inbound.receive, self.workspace, source, headers, self.request.body)
        except Exception as err:  # the store or the vault failed: the sender should retry later
            log.error("inbound webhook for %s could not be stored: %s", source, redact_exception(err))
            self._answer(503, {"error": "temporarily unable to store the webhook"})
            return
        self._answer(result.status, {"ok": result.status < 300, "detail": result.reason})
        if result.stored:
            _schedule_processing(self.workspace)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


_processing: dict[str, asyncio.Task[None]] = {}
_rerun: set[str] = set()


def _schedule_processing(ws: Workspace) -> None:
    """Run `process_inbound` after the answer; one run per store at a time, rerun if events came meanwhile."""
    key = str(ws.db_path)
    if key in _processing and not _processing[key].done():
        _rerun.add(key)
        return

    async def run() -> None:
        while True:
            _rerun.discard(key)
            try:
                report = await asyncio.to_thread(inbound.process_inbound, ws)
                log.info("processed inbound webhooks: %s", report.as_dict())
            except Exception as err:
                log.error("processing inbound webhooks failed: %s", redact_exception(err))
            if key not in _rerun:
                return

    _processing[key] = asyncio.get_running_loop().create_task(run())


def setup_handlers(serverapp: Any) -> None:
    """Add the route; handlers named in `c.ReconwbServer.inbound_handlers` ({source: "module:function"}) too."""
    global log
    log = serverapp.log
    install_redaction()
    ws = Workspace.from_env()
    config = serverapp.config.get("ReconwbServer", {})
    for source, target in dict(config.get("inbound_handlers", {})).items():
        inbound.register_handler(source, _import(target))
        log.info("reconwb: inbound %s webhooks are handled by %s", source, target)
    web_app = serverapp.web_app
    pattern = url_path_join(web_app.settings["base_url"], ROUTE)
    web_app.add_handlers(".*$", [(pattern, InboundWebhookHandler, {"workspace": ws})])
    serverapp.log.info("reconwb: inbound webhooks at %s (store %s)", pattern, ws.db_path)


def _import(target: str) -> Any:
    import importlib

    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
