"""The reconwb Jupyter server extension: the inbound webhook receiver (and, later, a small JSON API).

Enabled by `jupyter_config.py` (`c.ServerApp.jpserver_extensions = {"reconwb.server": True}`). The store is the
one `RECONWB_DB` names, as for every other reconwb process.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "reconwb.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from reconwb.server.webhooks import setup_handlers

    setup_handlers(serverapp)
