"""Which Chromium reconwb launches: the headless shell before the full browser, an explicit choice before both."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from reconwb import browser


def _executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("RECONWB_CHROMIUM", raising=False)
    monkeypatch.setattr(browser, "HEADLESS_SHELLS", ("chromium-headless-shell",))
    return tmp_path


def test_the_headless_shell_is_preferred_over_the_full_browser(bin_dir: Path) -> None:
    _executable(bin_dir, "chromium")
    shell = _executable(bin_dir, "chromium-headless-shell")
    assert browser.system_executable() == shell


def test_the_full_browser_serves_when_there_is_no_shell(bin_dir: Path) -> None:
    full = _executable(bin_dir, "chromium")
    assert browser.system_executable() == full


def test_reconwb_chromium_overrides_the_search(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _executable(bin_dir, "chromium-headless-shell")
    monkeypatch.setenv("RECONWB_CHROMIUM", "/opt/my/chrome")
    assert browser.system_executable() == Path("/opt/my/chrome")


def test_no_chromium_at_all_says_what_to_install(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "bundled_executable", lambda: None)
    with pytest.raises(RuntimeError, match="apt-get install"):
        browser.launch_options()


def test_the_launch_uses_the_shell_it_found(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "bundled_executable", lambda: None)
    shell = _executable(bin_dir, "chromium-headless-shell")
    options = browser.launch_options()
    assert options["executable_path"] == str(shell)
    assert options["headless"] is True and "--no-sandbox" in options["args"]
