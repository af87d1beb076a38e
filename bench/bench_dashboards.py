"""Time to first render of each Voila dashboard, on the demo store and on a store with 1,000,000 transactions.

The demo store is what `reconwb demo --no-serve` builds (simulated banks, the review cases, reconciled). The large
one is built in bulk (`INSERT ... SELECT FROM range(N)` in DuckDB): payments, matched and suggested match groups,
job runs. For each, `reconwb serve` starts and each dashboard is loaded in headless Chromium; the seconds until
each of its parts is visible are printed: the first banner or all-clear line of the reconciliation page, then its
money headline, jobs and deliveries; the connections table; the explorer's line saying which deposits it shows and
its grid's first row (DataTables' "No data" row on an empty page). A part counts as visible when the server's
first view draws it (`reconwb.server.first_view`) or the live widget does; the "live" marks are when the live
widgets have replaced every first view of the page (its controls work from then on). Pages are served by the
warm-kernel pool (`jupyter_config.py`), as people get them, with a pause between loads so the pool refills as it
would between people's clicks. Each load starts with an empty browser cache (cold, as the first visit of the
day); `--warm` keeps the cache. Before each load the store is written to (a setting of the bench's own), so no
page finds its money totals already computed for an earlier one (`reconwb/report_cache.py`); `--unchanged`
leaves it as it is, as when a person reloads a page with no fetch in between. `--compare` measures the same
stores under other settings, the plain lab template (no first view) among them, to show what each part of the
design is worth.

    python bench/bench_dashboards.py [--transactions 1000000] [--repeat 5] [--stores demo,large] [--warm] [--compare]
                                     [--unchanged]

It first prints where a page's time goes before any query (a kernel's start, each dashboard's imports in it),
then the median of the page loads against the targets, the CPU seconds the server and its kernels spent per
page, and the load average (2 shared cores make it noisy). A part that never shows within `--timeout` is
counted as a blank page (its screenshot is kept) instead of stopping the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil  # installed with Jupyter (ipykernel); CPU of the server and its kernels

from reconwb import accounts, connections, lifecycle, reports
from reconwb import serve as server
from reconwb.browser import launch_options
from reconwb.cli.admin import init_workspace
from reconwb.store.db import transaction
from reconwb.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-dashboards-token"
CONNECTIONS = 20


def build_store(ws: Workspace, n: int) -> None:
    """N deposits over CONNECTIONS accounts and two years, a payment for every third, most of those matched."""
    init_workspace(ws, simulated_banks=True)
    with ws.connect() as con:
        ids = []
        for i in range(CONNECTIONS):
            conn = connections.add(con, f"conn{i:02d}", "sim-nordic", username=f"user{i:03d}")
            ids.append(accounts.ensure(con, conn.connection_id, f"DE{i:020d}", currency="EUR"))
            if i == 0:
                lifecycle.set_health(con, conn.connection_id, "reconnect_required", "the bank rejected the password")
        if n == 0:
            return
        with transaction(con):
            con.execute(
                "INSERT INTO transactions (account_id, dedupe_key, bank_txn_id, booked_on, amount, currency,"
                " description, reference, counterparty, source)"
                " SELECT (?::BIGINT[])[1 + i % ?], 'id:' || i, 'T' || i, current_date - (i % 730)::INTEGER,"
                " ((i * 7919) % 500000 + 100) / 100.0, 'EUR', 'Payment INV-' || i, 'INV-' || i, 'Payer ' || (i % 5000),"
                " 'portal' FROM range(?) t(i)",
                [ids, len(ids), n],
            )
            con.execute(
                "INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, reference, payer, status)"
                " SELECT 'INV-' || i, ((i * 7919) % 500000 + 100) / 100.0, 'EUR', current_date - (i % 730)::INTEGER,"
                " current_date - (i % 730)::INTEGER + 30, 'INV-' || i, 'Payer ' || (i % 5000),"
                " CASE WHEN i % 9 < 6 THEN 'paid' ELSE 'open' END FROM range(0, ?, 3) t(i)",
                [n],
            )
            con.execute(
                "INSERT INTO match_groups (group_id, kind, rule, confidence, status)"
                " SELECT 'g' || i, 'one_to_one', 'exact_reference', 1.0,"
                " CASE WHEN i % 9 < 6 THEN 'matched' ELSE 'suggested' END FROM range(0, ?, 3) t(i) WHERE i % 9 < 8",
                [n],
            )
            con.execute(
                "INSERT INTO matches (group_id, txn_id, payment_id, amount)"
                " SELECT 'g' || (t.txn_id - 1), t.txn_id, t.reference, t.amount FROM transactions t"
                " JOIN match_groups g ON g.group_id = 'g' || (t.txn_id - 1)"
            )
            con.execute(
                "INSERT INTO job_runs (run_id, job, parameters, status, started_at, finished_at, error)"
                " SELECT 'job_' || i, ['sync', 'reconcile', 'deliver_webhooks'][1 + i % 3], '{}',"
                " CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END, now() - to_minutes(i * 15),"
                " now() - to_minutes(i * 15) + to_seconds(40), NULL FROM range(2000) t(i)"
            )


def demo_store(ws: Workspace) -> None:
    """The demo's workspace, as `reconwb demo --no-serve --dir` makes it (simulated banks, aggregator and
    providers, the review cases, reconciled)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RECONWB_DB", "RECONWB_KEY", "RECONWB_KEY_FILE")}
    subprocess.run([sys.executable, "-m", "reconwb", "demo", "--no-serve", "--dir", str(ws.db_path.parent)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)


def serve(ws: Workspace, tmp: Path, extra: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`reconwb serve`; with `extra` Jupyter options, the very command it runs plus those options."""
    port = server.free_port()
    env = {**os.environ, "RECONWB_DB": str(ws.db_path), "JUPYTER_CONFIG_DIR": str(tmp / "jcfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "jrt")}
    env.pop("RECONWB_KEY", None)
    command = [sys.executable, "-m", "reconwb", "serve", "--port", str(port), "--token", TOKEN]
    if extra:
        command = [*server.plan(port=port, token=TOKEN, root=ROOT).command(), *extra]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_until_up(base, TOKEN, process=proc)
    except RuntimeError as err:
        proc.kill()
        raise SystemExit(f"reconwb serve did not start: {err}") from None
    return proc, base


VARIANTS = {  # --compare: the same stores under other settings
    "lab template (no first view)": ["--VoilaConfiguration.template=lab"],
    "no kernel pool": ["--PooledKernelManager.pool_size=0"],
    "no progressive rendering": ["--VoilaConfiguration.progressive_rendering=False"],
}

# Each page's parts, in the order they show. A part is visible as soon as the server's first view draws it
# (reconwb.server.first_view) or its live widget does; "live ..." is when the live widgets have replaced every
# first view (the page's controls work from then on). Under the lab template (no first view) both are the same.
LIVE = "live "
PAGES = {
    "reconciliation": [("first banner", ".reconwb-banner, .reconwb-all-clear"), ("totals", ".reconwb-headline"),
                       ("job runs", ".reconwb-jobs-verdict"), ("deliveries", ".reconwb-deliveries-verdict"),
                       (f"{LIVE}widgets", ".jp-OutputArea-output .reconwb-deliveries-verdict")],
    "connections": [("connection table", ".reconwb-connections"),
                    (f"{LIVE}table", ".jp-OutputArea-output .reconwb-connections"),
                    ("add form", ".reconwb-add-connection")],
    "explorer": [("deposits line", ".reconwb-deposits-count"), ("deposit grid", "table.reconwb-deposits tbody tr"),
                 (f"{LIVE}grid", ".jp-OutputArea-output table.reconwb-deposits tbody tr")],
}
# seconds (issue 22): "everything" of the reconciliation page is its last part, deliveries, as first drawn;
# the live widgets are held to the same 3 s
TARGETS = {("reconciliation", "first banner"): 1.5, ("reconciliation", "deliveries"): 3.0,
           ("reconciliation", f"{LIVE}widgets"): 3.0, ("connections", "connection table"): 2.0,
           ("explorer", "deposit grid"): 2.0}
BLANK = float("nan")  # a part that never showed

# what each dashboard's first cell imports, timed in a fresh kernel (see `breakdown`)
FIRST_IMPORTS = {
    "reconciliation (banners)": "import reconwb.widgets.banner_panel, reconwb.workspace",
    "reconciliation (totals)": "import reconwb.widgets.totals",
    "reconciliation (jobs, deliveries, refresh)":
        "import reconwb.widgets.jobs_panel, reconwb.widgets.delivery_panel, reconwb.widgets.auto_refresh",
    "connections": "import reconwb.widgets.status, reconwb.widgets.account_selection, reconwb.widgets.add_connection",
    "explorer": "import reconwb.widgets.explorer",
}


def breakdown() -> dict[str, float]:
    """Where a page's time goes before any query: a kernel's start, then each dashboard's imports in it."""
    from jupyter_client.manager import start_new_kernel

    timings = {}
    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3")
    timings["kernel start (to ready)"] = time.perf_counter() - start
    try:
        for label, code in FIRST_IMPORTS.items():
            start = time.perf_counter()
            kc.execute_interactive(code, timeout=120)
            timings[f"imports: {label}"] = time.perf_counter() - start
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return timings


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU time so far of `reconwb serve`, its Jupyter server and every kernel under it."""
    total = 0.0
    try:
        root = psutil.Process(proc.pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        pass
    return total


def change(ws: Workspace) -> None:
    """A write to the store that leaves its figures as they were (a setting of the bench's own, set to the time):
    the next page finds the store in a new state, so nothing it shows was computed for an earlier page
    (`reconwb.report_cache`)."""
    with ws.connect() as con:
        con.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('bench.changed', ?, now())",
                    [str(time.time_ns())])


def measure(base: str, repeat: int, pause: float = 0, *, proc: subprocess.Popen[bytes] | None = None,
            timeout: float = 60, shots: Path | None = None, warm: bool = False,
            changed: Workspace | None = None) -> dict[str, dict[str, list[float]]]:
    """Seconds from asking for each page to each of its parts being visible, `repeat` times; plus, under "cpu",
    the server's CPU seconds per page load (measured until the page's last part showed). Cold by default: each
    load in a new browser context, so Voila's 3.5 MB of scripts come from the server every time, as for a person
    opening the page the first time that day; `warm`: one context, its cache kept between loads. `changed`: that
    store is written to (`change`) before each load."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, list[float]]] = {name: {label: [] for label, _ in marks} for name, marks in PAGES.items()}
    for name in PAGES:
        out[name]["cpu"] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        shared = browser.new_context() if warm else None
        for n in range(repeat):
            for name, marks in PAGES.items():
                time.sleep(pause)  # a person does not open three pages in two seconds: the kernel pool refills
                if changed is not None:
                    change(changed)
                context = shared or browser.new_context()  # cold: a fresh browser cache for every load
                page = context.new_page()
                cpu = cpu_seconds(proc) if proc else 0.0
                start = time.perf_counter()
                page.goto(f"{base}/voila/render/dashboards/{name}.ipynb?token={TOKEN}", wait_until="commit",
                          timeout=timeout * 1000)
                for label, selector in marks:
                    try:
                        page.locator(selector).first.wait_for(state="visible", timeout=timeout * 1000)
                        if label.startswith(LIVE):  # and no first view is left on the page
                            page.wait_for_function("!document.querySelector('.reconwb-first-view')",
                                                   timeout=timeout * 1000)
                        out[name][label].append(time.perf_counter() - start)
                    except PlaywrightError:
                        out[name][label].append(BLANK)
                        if shots is not None:
                            page.screenshot(path=str(shots / f"blank-{name}-{n}.png"), full_page=True)
                            print(f"  {name}: {label} not shown after {timeout:.0f} s, see {shots}")
                out[name]["cpu"].append((cpu_seconds(proc) - cpu) if proc else BLANK)
                page.close()  # Voila shuts the page's kernel down
                if shared is None:
                    context.close()
        browser.close()
    return out


QUERIES = {
    "overview (all the totals panel shows)": reports.overview, "headline": reports.headline,
    "deposit_totals": reports.deposit_totals, "payment_totals": reports.payment_totals, "trend": reports.trend,
    "ageing": reports.ageing, "job_runs": reports.job_runs, "delivery_health": reports.delivery_health,
}


def queries(ws: Workspace) -> dict[str, float]:
    """Each dashboard query on its own, in this process (store open included)."""
    timings = {}
    for name, fn in QUERIES.items():
        start = time.perf_counter()
        fn(ws)
        timings[name] = time.perf_counter() - start
    return timings


def _cell(name: str, mark: str, values: list[float]) -> str:
    shown = [v for v in values if v == v]  # not BLANK
    blank = f", {len(values) - len(shown)} blank" if len(shown) < len(values) else ""
    if mark == "cpu":
        return f"server CPU {statistics.median(shown):.2f} s" if shown else ""
    if not shown:
        return f"{mark} never shown{blank}"
    median = statistics.median(shown) if not blank else float("inf")
    target = TARGETS.get((name, mark))
    verdict = f" [target {target:.1f}: {'met' if median <= target else 'MISSED'}]" if target else ""
    return f"{mark} {statistics.median(shown):.2f} s (min {min(shown):.2f}{blank}){verdict}"


def report(label: str, figures: dict[str, dict[str, list[float]]]) -> None:
    for name, marks in figures.items():
        print(f"  {label}: {name:<15} " + ", ".join(_cell(name, m, v) for m, v in marks.items()))


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pause", type=float, default=4.0, help="seconds between page loads")
    parser.add_argument("--compare", action="store_true", help="also measure each store under VARIANTS")
    parser.add_argument("--warm", action="store_true", help="keep the browser's cache between page loads")
    parser.add_argument("--stores", default="demo,large", help="which stores to measure: demo, large or both")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a part counts as never shown")
    parser.add_argument("--unchanged", action="store_true",
                        help="leave the store as it is between page loads (by default each load follows a write,"
                             " so no page finds its money totals already computed for an earlier one)")
    args = parser.parse_args()
    print(f"before: {load_average()}")
    print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in breakdown().items()))
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp_name:
        tmp = Path(tmp_name)
        results = {}
        stores = {"demo": ("demo store", None), "large": (f"{args.transactions:,} txns", args.transactions)}
        for label, n in (stores[k.strip()] for k in args.stores.split(",")):
            ws = Workspace(db_path=tmp / label.replace(" ", "_").replace(",", "") / "reconwb.duckdb")
            start = time.perf_counter()
            if n is None:
                demo_store(ws)
            else:
                build_store(ws, n)
            built = time.perf_counter() - start
            size = ws.db_path.stat().st_size / 1e6
            print(f"{label}: store built in {built:.1f} s ({size:.0f} MB)")
            if n:
                q = queries(ws)
                print("  report queries (s): " + ", ".join(f"{k} {v:.2f}" for k, v in q.items()))
                print(f"  headline: {reports.headline(ws)}")
            variants = {"": None, **(VARIANTS if args.compare else {})}
            for variant, extra in variants.items():
                proc, base = serve(ws, tmp, extra)
                try:
                    time.sleep(args.pause)  # the server's kernel pool fills after start
                    name = f"{label} {variant}".strip()
                    results[name] = measure(base, args.repeat, args.pause, proc=proc, timeout=args.timeout,
                                            shots=tmp.parent, warm=args.warm, changed=None if args.unchanged else ws)
                    report(name, results[name])  # as it comes (the summary repeats it)
                finally:
                    proc.terminate()  # `reconwb serve` stops its Jupyter server and kernels
                    proc.wait(timeout=40)
        cache = "warm" if args.warm else "cold"
        store = "unchanged" if args.unchanged else "written to before each load"
        print(f"time to first render, median of {args.repeat} page loads ({cache} browser cache, store {store}),"
              f" headless Chromium ({load_average()}):")
        for label, figures in results.items():
            report(label, figures)


if __name__ == "__main__":
    main()
