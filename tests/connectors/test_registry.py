"""Connector discovery: the built-in portal connectors and a third party's package found by entry point."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconwb import banks
from reconwb.connectors import registry
from reconwb.connectors.portal import PortalConnector
from reconwb.workspace import Workspace


def test_builtin_portal_connectors_declare_what_they_support(ws: Workspace) -> None:
    found = registry.discover()
    for connector_id in ("portal-nordic", "portal-alpine", "portal-atlantic"):
        cls = found[connector_id]
        assert issubclass(cls, PortalConnector)
        assert cls.banks and cls.history_days > 0 and "password" in cls.credential_fields
        assert set(cls.login_modes) == {"simple", "assisted"}
    with ws.connect() as con:  # `reconwb init` registered their banks
        assert {"sim-nordic", "sim-alpine", "sim-atlantic"} <= {b.bank_id for b in banks.list_banks(con)}


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution `acme-bank` (code plus dist-info), as pip would leave it in site-packages."""
    site = tmp_path / "site"
    (site / "acme_bank").mkdir(parents=True)
    (site / "acme_bank" / "__init__.py").write_text(textwrap.dedent("""
        from reconwb.connectors.base import BankInfo
        from reconwb.connectors.portal_nordic import NordicConnector

        class AcmeConnector(NordicConnector):
            id = "acme-portal"
            banks = (BankInfo("acme", "Acme Bank", "NL"),)
            history_days = 30
    """))
    dist = site / "acme_bank-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-bank\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[reconwb.connectors]\nacme = acme_bank:AcmeConnector\n")
    (dist / "RECORD").write_text("")
    monkeypatch.syspath_prepend(str(site))
    registry.discover.cache_clear()
    yield site
    registry.discover.cache_clear()


def test_a_third_party_package_is_discovered_and_its_bank_registered(ws: Workspace, third_party: Path,
                                                                       run_cli) -> None:
    cls = registry.get("acme-portal")
    assert cls.__module__ == "acme_bank" and cls.history_days == 30
    done = run_cli("init", env={"PYTHONPATH": str(third_party)}, check=True)
    assert done.returncode == 0
    listed = run_cli("banks", "list", "--json", env={"PYTHONPATH": str(third_party)}, check=True)
    assert '"acme"' in listed.stdout and '"acme-portal"' in listed.stdout


def test_a_broken_plugin_does_not_take_reconwb_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "bad-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[reconwb.connectors]\nbad = no_such_module:Nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.discover.cache_clear()
    try:
        assert "portal-nordic" in registry.discover()
    finally:
        registry.discover.cache_clear()
