"""One Jupyter configuration for `reconwb serve`: JupyterLab, Voila dashboards and the reconwb server extension.

Used as `jupyter lab --config=.../reconwb/resources/jupyter_config.py` (it ships in the package; `reconwb serve`
finds it with `reconwb.resources.jupyter_config()`), with the workspace folder as the server's root. Token
authentication stays on: every page, the dashboards included, needs the server's token (`reconwb serve --token`,
or a random one it prints).

Preheated kernels are deliberately OFF. Voila (0.5) pre-heats kernels only when it runs as its own `voila`
application; as a server extension of this one server its render handler has no kernel pool (the setting is
silently ignored, see `voila/handler.py`: "For server extension case", pool size 0). It would also be wrong for
these dashboards: a pre-heated kernel executes the notebook before anyone asks, so its banners describe the
store as it was when the kernel warmed up (a bank disabled since then would show no banner). Each page view
therefore runs its notebook in a fresh kernel; `bench/bench_dashboards.py` measures what that costs.
Progressive rendering is on instead: each cell's widgets appear as soon as the cell ran, so the banners (the first
cell) show before the totals over a large store are computed.
"""

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {"voila": True, "reconwb.server": True}  # reconwb.server: inbound webhooks
c.IdentityProvider.token = None  # a random token unless the caller passes one
# the workspace folder, plus the built-in dashboards under dashboards/ (reconwb/server/contents.py)
c.ServerApp.contents_manager_class = "reconwb.server.contents.WorkspaceContentsManager"

# Voila as a server extension: /voila/render/dashboards/<name>.ipynb
c.VoilaConfiguration.show_tracebacks = False  # a viewer sees "an error occurred", never a traceback
c.VoilaConfiguration.strip_sources = True  # the dashboards show widgets, not code
c.VoilaConfiguration.preheat_kernel = False  # see the module docstring
c.VoilaConfiguration.progressive_rendering = True  # banners first, totals when ready

# A dashboard tab that is closed without Voila's shutdown call leaves an idle kernel: cull it after an hour.
# Connected kernels (open notebooks, open dashboards) are never culled.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 300
c.MappingKernelManager.cull_connected = False
