"""One Jupyter configuration for `reconwb serve`: JupyterLab, Voila dashboards and the reconwb server extension.

Used as `jupyter lab --config=jupyter_config.py`. Token authentication stays on.
"""

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {"voila": True, "reconwb.server": True}  # reconwb.server: inbound webhooks
c.IdentityProvider.token = None  # a random token unless the caller passes one
c.VoilaConfiguration.show_tracebacks = False
