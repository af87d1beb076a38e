"""ipywidgets for analysts: load with `%load_ext reconwb`, or import directly.

The names below are loaded on first use (PEP 562): a dashboard that shows only the banners must not pay for the
explorer's grid, matching engine and plotting (seconds of imports in a fresh kernel, before its first widget).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ConnectionStatusTable": "reconwb.widgets.status",
    "CredentialForm": "reconwb.widgets.credentials",
    "OtpPrompt": "reconwb.widgets.otp",
    "PlotsPanel": "reconwb.widgets.explorer",
    "ReconciliationExplorer": "reconwb.widgets.explorer",
    "discover_panels": "reconwb.widgets.panels",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    attr = "discover" if name == "discover_panels" else name
    return getattr(import_module(_LAZY[name]), attr)
