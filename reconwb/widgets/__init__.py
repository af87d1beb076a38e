"""ipywidgets for analysts: load with `%load_ext reconwb`, or import directly."""

from reconwb.widgets.credentials import CredentialForm
from reconwb.widgets.status import ConnectionStatusTable

__all__ = ["ConnectionStatusTable", "CredentialForm"]
