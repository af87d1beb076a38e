"""ipywidgets for analysts: load with `%load_ext reconwb`, or import directly."""

from reconwb.widgets.credentials import CredentialForm
from reconwb.widgets.explorer import PlotsPanel, ReconciliationExplorer
from reconwb.widgets.otp import OtpPrompt
from reconwb.widgets.panels import discover as discover_panels
from reconwb.widgets.status import ConnectionStatusTable

__all__ = [
    "ConnectionStatusTable", "CredentialForm", "OtpPrompt", "PlotsPanel", "ReconciliationExplorer", "discover_panels",
]
