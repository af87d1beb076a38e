"""reconwb: bank reconciliation workbench."""

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext reconwb`."""
    from reconwb.widgets.extension import load

    load(ipython)
