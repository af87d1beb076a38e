"""The product as a user gets it: the wheel, installed into a fresh venv outside the repository, run from an
empty folder.

The wheel is built from a copy of the source tree (so a stale `build/` cannot leak into it) and installed with
`--no-deps` into a new venv that sees this test run's dependencies through a `.pth` line, so the test does not
download the world; nothing of the checkout is importable there (no PYTHONPATH, no editable finder). Jupyter's
data files (JupyterLab's and Voila's static assets and templates) live in a venv's `share/jupyter`, which a `.pth`
line does not bring along, so JUPYTER_PATH and JUPYTERLAB_DIR point at this venv's, as a full install would have
its own. The one command of the set-up a person types, `pip install dist/*.whl` into a clean venv with its
dependencies, was checked by hand (README).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from reconwb.serve import free_port, wait_until_up
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.browser]

IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "data", "artifacts", "*.egg-info", "__pycache__",
                                ".pytest_cache", ".ruff_cache", ".hypothesis", "tests", "bench")
TOKEN = "wheel-test-token-5150"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A venv holding the wheel, the environment to run it with, and an empty folder to run it in."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp / "dist")],
                   check=True, timeout=600, capture_output=True)
    wheel = next((tmp / "dist").glob("reconwb-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_reconwb_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after the venv's own
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=600, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONWB_", "PYTHONPATH", "JUPYTER"))}
    share = Path(sys.prefix) / "share" / "jupyter"
    env.update({"JUPYTER_PATH": str(share), "JUPYTERLAB_DIR": str(share / "lab"),
                "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
                "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"})
    home = tmp / "empty"
    home.mkdir()
    return {"reconwb": str(venv / "bin" / "reconwb"), "python": str(python), "env": env, "cwd": home}


def run(installed: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([installed["reconwb"], *args], cwd=installed["cwd"], env=installed["env"],
                          capture_output=True, text=True, timeout=timeout)


def test_the_package_comes_from_the_wheel_not_the_checkout(installed: dict) -> None:
    where = subprocess.run([installed["python"], "-c", "import reconwb, reconwb.resources as r;"
                            " print(reconwb.__file__); print(r.builtin_dir('jobs'))"],
                           cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, check=True)
    for line in where.stdout.split():
        assert not Path(line).is_relative_to(ROOT), line
        assert Path(line).exists()
    assert run(installed, "--version").stdout.startswith("reconwb ")


def test_init_demo_jobs_and_serve_from_an_empty_folder(installed: dict) -> None:
    done = run(installed, "init", "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    cwd: Path = installed["cwd"]
    assert Path(made["db"]) == cwd / "reconwb.duckdb" and (cwd / "notebooks" / "explore.ipynb").is_file()
    assert (cwd / "reconwb.key").stat().st_mode & 0o777 == 0o600
    banks = json.loads(run(installed, "banks", "list", "--json").stdout)
    assert banks and not [b for b in banks if b["bank_id"].startswith("sim-")]

    demo = run(installed, "demo", "--no-serve", "--json")
    assert demo.returncode == 0, demo.stderr[-3000:]
    summary = json.loads(demo.stdout)
    # the demo's failing logins (expired password, OTP, the typo) make its pipeline run partial, naming them
    assert summary["job"]["status"] == "partial" and summary["matched"] > 0
    assert Path(summary["workspace"]) == cwd / "data" / "demo"

    job = run(installed, "jobs", "run", "reconcile", "--json")
    assert job.returncode == 0, job.stderr[-3000:]
    record = json.loads(job.stdout)
    assert record["status"] == "succeeded" and Path(record["output_path"]).is_relative_to(cwd)

    port = free_port()
    server = subprocess.Popen([installed["reconwb"], "serve", "--port", str(port), "--token", TOKEN],
                              cwd=installed["cwd"], env=installed["env"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, TOKEN, process=server)
        listing = httpx.get(f"{base}/api/contents/notebooks", params={"token": TOKEN}, timeout=30).json()
        assert {c["name"] for c in listing["content"]} >= {"explore.ipynb", "manage_connections.ipynb"}
        _load_dashboard(f"{base}/voila/render/dashboards/connections.ipynb?token={TOKEN}&refresh=0")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    # a closed browser tab may leave tornado's own "stream closed" traceback; none may run through reconwb
    assert "site-packages/reconwb" not in output, output[-3000:]


def _load_dashboard(url: str) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from reconwb.browser import launch_options

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(url, wait_until="domcontentloaded", timeout=180_000)
            page.locator(".reconwb-connections").first.wait_for(state="visible", timeout=180_000)
            # the page's last cell: stopping the server while cells still run interrupts them (jupyter_client
            # interrupts a kernel before shutting it down), and Voila logs the interrupted cell with its traceback
            page.locator(".reconwb-auto-refresh").first.wait_for(state="attached", timeout=180_000)
            assert "There was an error" not in page.content()
        finally:
            browser.close()
