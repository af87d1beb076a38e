"""One Jupyter configuration for `reconwb serve`: JupyterLab, Voila dashboards and the reconwb server extension.

Used as `jupyter lab --config=.../reconwb/resources/jupyter_config.py` (it ships in the package; `reconwb serve`
finds it with `reconwb.resources.jupyter_config()`), with the workspace folder as the server's root. Token
authentication stays on: every page, the dashboards included, needs the server's token (`reconwb serve --token`,
or a random one it prints).

Where a page's time goes (bench/bench_dashboards.py, 2 shared cores): the browser loading Voila's scripts
(about 3.5 MB) takes 1-1.5 s on a quiet machine and 2-3.5 s at load 5-8 with an empty cache, before it asks the
kernel to run the notebook at all (progressive rendering runs the cells only once the page's scripts connect);
starting a kernel about 0.9 s; imports in it 0.4 s for the banners; the report queries 0.02-0.4 s on the demo
store and 1.3 s for the money totals on 1M deposits (0.8 s since session 7). The issue offered three ways out:
pre-started kernels that still show the store as it is at request time, lighter imports in the dashboard kernel,
or another rendering path. All three are used; the third is what meets the targets, because the first two cannot
remove the browser's script loading, which alone is about the 1.5 s budget of the first banner:

- The server-drawn first view (`reconwb.server.first_view`, THE CHOICE): when a page is asked for, Voila's
  `prelaunch_hook` starts drawing, in a thread of this server, the views the notebook's cells name in their
  metadata (`{"reconwb": {"first_view": "banners"}}`: banners, totals, jobs, deliveries, connections,
  explorer), from the store as it is at that moment, with the live panels' own rendering functions (one source
  of truth, tested byte for byte). The `reconwb` Voila template (the lab template plus the views, shipped in
  `resources/voila/templates` and found through JUPYTER_PATH, set below) puts each view in its cell's place in
  the HTML, ahead of Voila's scripts, so the browser shows the money, the banners and the tables as soon as
  the page's first bytes arrive; a small script in the template removes each view once its cell's live
  widgets show the same part (or the busy notice, or an error). The controls are inert until then (disabled
  buttons). The view is never stale (read at request time, like the live page), shows no secret (the panels
  never render one), and on a held store draws the busy notice after `WAIT_SECONDS`, never an error; its
  read announces itself as waiting (`reconwb.store.announced_reader`) so long chunked work lets it in.
  Not chosen: gzip of Voila's static files (measured by an earlier attempt at this work: not worth keeping on a
  local connection, the cost is the browser parsing 3.5 MB, not the transfer); Voila's pre-heating (see
  below: stale by design). `bench/bench_dashboards.py --compare` measures the plain lab template beside it.
- `ReadyClient` (`reconwb.server.kernel_pool`) for every kernel client of this server: jupyter_client waits
  until IOPub has been quiet 0.2 s before a client is ready, and a page paid that twice (the pool's hand-out
  and Voila's executor) before its HTML went on.
- Lighter imports: `reconwb.widgets` and `reconwb.matching` load their names on first use (the engine with
  scipy only when a reconcile runs), matplotlib loads when a plot is drawn, itables without its pandas sample
  frames, and the reconciliation page imports each panel in the cell that shows it. The explorer's imports
  went from 1.25 s to 0.4 s in a fresh interpreter (0.08 s after the banners' in the same kernel).
- A pool of warm kernels for EVERY dashboard page (`reconwb.server.kernel_pool.PooledKernelManager`: it serves
  whatever notebook Voila renders, the workspace's own dashboards included): started, with every panel's
  modules imported and matplotlib's renderer loaded, but the notebook NOT executed. Voila's own pre-heating is
  OFF and stays off: as a server extension of this one server its render handler has no kernel pool (the
  setting is silently ignored, see `voila/handler.py`: "For server extension case", pool size 0), and it would
  be wrong for these dashboards: a pre-heated kernel executes the notebook before anyone asks, so its banners
  would describe the store as it was when the kernel warmed up (a bank disabled since then would show no
  banner). A pooled kernel runs the notebook when the page is asked for, so the page shows the store at
  request time. `RECONWB_KERNEL_POOL` sets how many wait (default 2; each holds about 150 MB; 0 switches the
  pool off). A replacement starts once the page that took one has run its notebook (its kernel quiet
  for `refill_quiet` seconds): warming costs about two CPU seconds, which on two cores would otherwise come out of
  that very page (measured: 3.3-3.9 CPU seconds per page load with an immediate refill, 1.1-1.8 without).
- Request-time prefetch (`reconwb.widgets.prefetch`): when a pooled kernel is handed to the reconciliation page
  it starts the money totals right away, in a thread, while the browser is still loading Voila's scripts; the
  totals panel takes that result when its cell runs. Still read after the request, so still the store at
  request time.
- The money totals computed once per state of the store (`reconwb.report_cache`, the 1M live page's fix): the
  server's first view and the kernel's prefetch asked for the same 1.3 CPU-s of totals at the same moment and
  computed them side by side on two cores, each at half speed (traced: 2.5 s each). Now the first to ask
  computes them under a lock file and writes them to a 0600 file next to the store; the other waits and reads
  them, and a later page of an unchanged store reads them without a query. The entry is keyed by the store's
  state when asked (its DuckDB headers, rewritten at every checkpoint, and its write-ahead log, appended at every
  commit), so a write between two loads shows on the second (tested). Chosen over handing the first view's
  figures to the kernel (two processes that start together: neither knows which finishes first, and a lock
  file says it) and over a cheaper query (timed part by part on 1M: the deposit states 0.35 s, the six reads
  over them and the payments 0.05-0.25 s each, no single pass to remove; pre-aggregating would need every
  writer to keep the aggregates right).
- A late first view does not hold the page: Voila's scripts start the live page (ask the kernel to run the
  cells) only at the document's `load` event, and the slow view (the totals of a large store) was streamed at
  the end of the HTML, so the live page started only after it (traced: `load` at 5.8-6.6 s at load 5). The
  placeholder now fetches its view (`first_view.LateViewHandler`) and the document ends at once.
- Voila's page templates compiled once per server (`reconwb.server.templates`): Voila makes a new Jinja
  environment per page, which parsed and compiled the template chain again before the page's first byte
  (py-spy in the server: 0.26 s of its main thread per page at load 2-3; the first byte came 0.25 s sooner).
- The first views drawn each on a thread of their own: one after the other, the slow totals held back the jobs
  and deliveries views, and each kept the HTML waiting `INLINE_SECONDS` before becoming a placeholder.
- The banners share one layout and style widget (20 banners were 169 widgets, each a message the server relays
  and the page builds before the next cell runs; now 74).
- The totals' two plots (0.5 CPU-s of matplotlib) are drawn once the page's cells have run
  (`reconwb.widgets.idle`): drawn in a thread beside the jobs and deliveries cells, they took turns with them
  for the interpreter.
- Progressive rendering: each cell's widgets appear as soon as the cell ran, so the banners (the first cell)
  show before the totals over a large store are computed.
- The explorer's first view: its rows first, their best candidates when found (`best_later`: that search reads
  every open payment for every deposit on the page, 4 s on 1M deposits); one itables grid, not two (the
  candidates' grid is made when a deposit is first selected); the matches are read when their tab opens.
- No blank pages under load: Voila's executor waits `iopub_timeout` seconds, after a cell's reply, for the
  cell's remaining output; nbclient's default is 4 s, after which it DROPS the rest of the cell's output
  without an error. The explorer's single cell sent about 1.5 MB of widget state (each itables grid carries its
  0.7 MB script and style) before its display message: on a host at load 10-13 that display could come later
  than 4 s and the page stayed blank (read in nbclient's code; the timeout is the one path that leaves a page
  without error or output, not reproduced on demand). The executor now waits as long as a cell may take.

Final code (first views going late after 0.1 s), same harness, median of 5, load 9.0 falling to 3.2: demo 0.80 s,
1.02 s, live 2.45 s; connections 0.64 s (live 2.28 s); explorer 0.67 s (live 2.35 s); 1M 0.74 s, 1.49 s, LIVE
2.61 s (min 1.99 s); connections 0.63 s (live 2.52 s); explorer 0.65 s (live 2.25 s); CPU 2.5 s per 1M page.

Measured with bench/bench_dashboards.py after the report cache, the late fetch, the template cache, the parallel
views, the shared banner layouts, the deferred plots and the cheaper totals (session 7, views going late after 0.3
s; cold browser cache; the store written to before every load, so every page computes its totals afresh; median of
5, load 1.4 when it started and 4-6 while the 1M store ran): demo store: reconciliation first banner 0.68 s,
everything 0.75 s, live widgets 2.54 s; connections 0.69 s (live 2.75 s); explorer 0.74 s (live 2.69 s). 1M
deposits: 0.91 s, 2.18 s, LIVE 3.07 s (min 2.94 s: 0.07 s over the 3 s target at that load); connections 0.58 s
(live 3.11 s); explorer 0.78 s (live 2.65 s). Server and kernel CPU per 1M reconciliation page: 2.2 s (7.9 s
before, same harness at load 7). The same main before these changes, this host, load 2-7, median of 3: 1M first
banner 1.53 s, everything 4.83 s, live 7.89 s. Before this session:
median of 3 at load 6.7-8: demo store: reconciliation first banner 1.04 s, all its parts 1.31 s,
connections table 0.70 s, explorer grid 0.75 s; 1M deposits: 1.06 / 2.81 / 0.74 / 0.89 s: the targets, as first
drawn. The plain lab template in the same harness (demo, load 4-8): 2.75 / 3.96 / 2.85 / 3.72 s. The live widgets
replace the first view 2.5-3.2 s (demo) and 3.0-5.3 s (1M) after the request: Voila's scripts, cold, then the
cells run; that part is not under 3 s on 1M. At load 16-18 the demo's figures were 1.87 / 4.68 / 1.39 / 2.27 s.
Before the first view: at load 2.5-5, demo 1.8 / 2.5 / 2.5 / 2.4 s, 1M 2.3 / 3.1 / 2.5 / 2.4 s; quiet machine,
demo, 1.87 / 2.19 / 2.34 / 2.21 s.
"""

import os

from reconwb import resources
from reconwb.server import first_view

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {"voila": True, "reconwb.server": True}  # reconwb.server: inbound webhooks
c.IdentityProvider.token = None  # a random token unless the caller passes one
# the workspace folder, plus the built-in dashboards under dashboards/ (reconwb/server/contents.py)
c.ServerApp.contents_manager_class = "reconwb.server.contents.WorkspaceContentsManager"

# Voila as a server extension: /voila/render/dashboards/<name>.ipynb
# the server-drawn first view (see the module docstring): the `reconwb` template, shipped in the package under
# resources/voila/templates (Jupyter finds templates on JUPYTER_PATH, read when the Voila extension loads)
_templates = str(resources.jupyter_config().parent)  # the installed package's, wherever this file is run from
os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (_templates, os.environ.get("JUPYTER_PATH")) if p)
c.VoilaConfiguration.template = first_view.TEMPLATE
c.VoilaConfiguration.prelaunch_hook = first_view.prelaunch_hook
c.VoilaConfiguration.resources = {"reconwb_first_view": first_view.take}
c.VoilaConfiguration.show_tracebacks = False  # a viewer sees "an error occurred", never a traceback
c.VoilaConfiguration.strip_sources = True  # the dashboards show widgets, not code
c.VoilaConfiguration.preheat_kernel = False  # see the module docstring
c.VoilaConfiguration.progressive_rendering = True  # banners first, totals when ready
c.VoilaExecutor.iopub_timeout = 120  # seconds: a busy host delays a cell's output, never drops it (docstring)

# warm kernels for the dashboard pages (see the module docstring)
c.ServerApp.kernel_manager_class = "reconwb.server.kernel_pool.PooledKernelManager"
c.PooledKernelManager.pool_size = int(os.environ.get("RECONWB_KERNEL_POOL", "2"))
# every kernel's clients (the pool's, Voila's executor's) are ready without a 0.2 s quiet wait (ReadyClient)
c.ServerKernelManager.client_class = "reconwb.server.kernel_pool.ReadyClient"

# A dashboard tab that is closed without Voila's shutdown call leaves an idle kernel: cull it after an hour.
# Connected kernels (open notebooks, open dashboards) are never culled.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 300
c.MappingKernelManager.cull_connected = False
