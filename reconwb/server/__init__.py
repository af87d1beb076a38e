"""The reconwb Jupyter server extension: the inbound webhook receiver and the dashboards' late first views.

Enabled by `jupyter_config.py` (`c.ServerApp.jpserver_extensions = {"reconwb.server": True}`). The store is the
one `RECONWB_DB` names, as for every other reconwb process.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "reconwb.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from reconwb.server import first_view, templates, webhooks

    templates.share_compiled_templates()  # Voila's pages: their templates compiled once, not per page
    webhooks.setup_handlers(serverapp)
    first_view.setup_handlers(serverapp)  # the dashboards' first views drawn late
