"""One Jupyter configuration for `reconwb serve`: JupyterLab, Voila dashboards and the reconwb server extension.

Used as `jupyter lab --config=.../reconwb/resources/jupyter_config.py` (it ships in the package; `reconwb serve`
finds it with `reconwb.resources.jupyter_config()`), with the workspace folder as the server's root. Token
authentication stays on: every page, the dashboards included, needs the server's token (`reconwb serve --token`,
or a random one it prints).

Where a page's time went (bench/bench_dashboards.py, 2 shared cores): starting its kernel about 1 s, importing
reconwb's widgets in it 0.5-3 s (the widgets package used to import the explorer, the matching engine, scipy
and matplotlib for every page), the report queries 0.02-0.4 s. Three changes, each measured there:

- Lighter imports: `reconwb.widgets` loads its names on first use, the engine loads when a reconcile runs,
  matplotlib when a plot is drawn, and the reconciliation page imports each panel in the cell that shows it
  (the banners need only the store and ipywidgets).
- A pool of warm kernels (`reconwb.server.kernel_pool.PooledKernelManager`): started and with the widget
  imports done, but the notebook NOT executed. Voila's own pre-heating is OFF and stays off: as a server
  extension of this one server its render handler has no kernel pool (the setting is silently ignored, see
  `voila/handler.py`: "For server extension case", pool size 0), and it would be wrong for these dashboards: a
  pre-heated kernel executes the notebook before anyone asks, so its banners would describe the store as it was
  when the kernel warmed up (a bank disabled since then would show no banner). A pooled kernel runs the
  notebook when the page is asked for, so the page shows the store at request time. `RECONWB_KERNEL_POOL` sets
  how many wait (default 2; each holds about 150 MB; 0 switches the pool off).
- Progressive rendering: each cell's widgets appear as soon as the cell ran, so the banners (the first cell)
  show before the totals over a large store are computed.
"""

import os

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

# warm kernels for the dashboard pages (see the module docstring)
c.ServerApp.kernel_manager_class = "reconwb.server.kernel_pool.PooledKernelManager"
c.PooledKernelManager.pool_size = int(os.environ.get("RECONWB_KERNEL_POOL", "2"))

# A dashboard tab that is closed without Voila's shutdown call leaves an idle kernel: cull it after an hour.
# Connected kernels (open notebooks, open dashboards) are never culled.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 300
c.MappingKernelManager.cull_connected = False
