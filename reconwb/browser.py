"""Which Chromium Playwright drives, and how it gets onto a fresh machine.

Playwright's own browser build is preferred; where it cannot be downloaded (closed networks), the system's
Chromium is used instead. Among system builds the *headless shell* comes first: it is the build Playwright
itself uses for headless runs, and it costs a third of the full browser's CPU per page (bench/bench_portal_sync.py:
20 connections took 17-21 s with the full browser, 7 s with the shell). `python -m reconwb.browser install` is
what `make` runs: it leaves a usable Chromium or says exactly what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# the real binaries first: Debian's /usr/bin/chromium* are shell wrappers that do not `exec`
HEADLESS_SHELLS = ("/usr/lib/chromium/chromium-headless-shell", "chromium-headless-shell", "headless_shell")
FULL_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
APT_PACKAGES = ("chromium-headless-shell", "chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def bundled_executable() -> Path | None:
    """Playwright's own Chromium, if it has been downloaded."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            path = Path(pw.chromium.executable_path)
    except Exception:
        return None
    return path if path.exists() else None


def system_executable() -> Path | None:
    """RECONWB_CHROMIUM, else the system's headless shell, else its full Chromium."""
    explicit = os.environ.get("RECONWB_CHROMIUM")
    if explicit:
        return Path(explicit)
    return _first_found(HEADLESS_SHELLS) or _first_found(FULL_BROWSERS)


def _first_found(candidates: tuple[str, ...]) -> Path | None:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch_options() -> dict[str, Any]:
    """Keyword arguments for `chromium.launch`: the system binary when Playwright's own is missing."""
    options: dict[str, Any] = {"headless": True, "args": list(LAUNCH_ARGS)}
    if bundled_executable() is None:
        system = system_executable()
        if system is None:
            raise RuntimeError(
                "no Chromium found: run `make install`, or `apt-get install chromium`, or set RECONWB_CHROMIUM"
            )
        options["executable_path"] = str(system)
    return options


def launch(pw: Playwright) -> Browser:
    return pw.chromium.launch(**launch_options())


def _apt_install() -> bool:
    """Install the system packages where this process may (root with apt); whether the shell is now there."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("chromium: installing the system packages " + " ".join(APT_PACKAGES))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    for package in APT_PACKAGES:  # one by one: a distribution without the shell still gets the browser
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env)
    return _first_found(HEADLESS_SHELLS) is not None


def install() -> int:
    """Make sure a Chromium is available; return a process exit code."""
    if os.environ.get("RECONWB_CHROMIUM") or bundled_executable() or _first_found(HEADLESS_SHELLS):
        print("chromium: available")
        return 0
    if system_executable():  # the full browser works; the headless shell beside it makes every sync faster
        if not _apt_install():
            print("chromium: available (the full browser; `apt-get install chromium-headless-shell` is faster)")
        return 0
    print("chromium: trying Playwright's download")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "playwright", "install", "chromium"], timeout=300, check=False
        )
        if done.returncode == 0 and bundled_executable():
            return 0
    except subprocess.TimeoutExpired:
        pass
    if _apt_install() or system_executable():
        return 0
    print(
        "error: no Chromium for Playwright. Install one: `sudo apt-get install chromium-headless-shell`"
        " (Debian/Ubuntu),"
        " or `python -m playwright install --with-deps chromium`, or set RECONWB_CHROMIUM to a Chromium binary.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        sys.exit(install())
    print(launch_options())
