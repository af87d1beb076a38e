"""Fixtures for the open-banking providers: their simulators, a workspace configured for each, a receiver that
verifies and handles their webhooks over real HTTP, and the providers' published OpenAPI documents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconwb import connections
from reconwb.sim.httpjson import Handle
from reconwb.workspace import Workspace
from tests.aggregator_env import Receiver, smtp  # noqa: F401 - a shared fixture
from tests.conftest import ROOT, SHARED

SPEC_FILES = {"plaid": "plaid-openapi-2020-09-14.yml", "gocardless": "gocardless-bank-account-data.json"}


def spec_path(provider: str) -> Path:
    for folder in (SHARED / "specs", ROOT.parent.parent / "shared" / "specs"):
        if (folder / SPEC_FILES[provider]).exists():
            return folder / SPEC_FILES[provider]
    pytest.skip(f"the {provider} OpenAPI document is not in ../shared/specs")


@pytest.fixture(scope="session")
def openapi_of(request: pytest.FixtureRequest):
    """`openapi_of(provider)`: openapi-core's view of the provider's published spec (parsed once, cached)."""
    from openapi_core import Config, OpenAPI

    loaded: dict[str, Any] = {}

    def get(provider: str) -> Any:
        if provider not in loaded:
            path = spec_path(provider)
            raw = path.read_bytes()
            key = f"reconwb-specs/{provider}-{hashlib.sha256(raw).hexdigest()[:16]}"
            data = request.config.cache.get(key, None)
            if data is None:  # 3 MB of YAML takes seconds to parse: keep the parsed form between runs
                import yaml

                data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) \
                    if path.suffix == ".yml" else json.loads(raw)
                request.config.cache.set(key, data)
            loaded[provider] = (OpenAPI.from_dict(data, config=Config(spec_validator_cls=None)),
                                data["servers"][0]["url"])
        return loaded[provider]

    return get


def validate_transcript(openapi_of, provider: str, handle: Handle) -> int:
    """Check every answer the simulator gave against the provider's spec; return how many were checked."""
    from openapi_core.testing import MockRequest, MockResponse

    openapi, server = openapi_of(provider)
    checked = 0
    for method, path, status, body in list(handle.transcript):
        route, _, query = path.partition("?")
        args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        openapi.validate_response(MockRequest(server, method, route, args=args), MockResponse(body, status_code=status))
        checked += 1
    return checked


@dataclass
class Provider:
    """A workspace wired to a running provider simulator, with webhooks through a verifying receiver."""

    ws: Workspace
    sim: Handle
    receiver: Receiver | None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.sim.url, timeout=10)

    def admin(self, path: str, **body: Any) -> Any:
        response = self.http.post(f"/__admin/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def settle(self) -> None:
        self.sim.state.drain()

    def conn(self, name: str) -> connections.Connection:
        with self.ws.connect() as con:
            found = connections.get(con, name)
        assert found is not None
        return found

    def count(self, sql: str, params: list | None = None) -> int:
        with self.ws.connect() as con:
            return int(con.execute(sql, params or []).fetchall()[0][0])

    def close(self) -> None:
        self.http.close()
        self.sim.stop()
        if self.receiver is not None:
            self.receiver.stop()


def _provider(ws: Workspace, sim: Handle, receiver: Receiver | None, refresh) -> Iterator[Provider]:
    env = Provider(ws, sim, receiver)
    try:
        refresh(ws)
        yield env
    finally:
        env.close()


@pytest.fixture
def plaid_env(ws: Workspace) -> Iterator[Provider]:
    from reconwb.openbanking import plaid
    from reconwb.sim.plaid import start_plaid

    receiver = Receiver(ws, plaid.WEBHOOK_SOURCE)
    sim = start_plaid(webhook_url=receiver.url)
    with ws.connect() as con:
        plaid.configure(con, ws.vault(), url=sim.url, client_id=sim.state.client_id, secret=sim.state.secret,
                        webhook_url=receiver.url, link_mode="simulator")
    yield from _provider(ws, sim, receiver, plaid.refresh_banks)


@pytest.fixture
def gocardless_env(ws: Workspace) -> Iterator[Provider]:
    from reconwb.openbanking import gocardless
    from reconwb.sim.gocardless import start_gocardless

    sim = start_gocardless()
    with ws.connect() as con:
        gocardless.configure(con, ws.vault(), url=sim.url, secret_id=sim.state.secret_id,
                             secret_key=sim.state.secret_key, link_mode="simulator")
    yield from _provider(ws, sim, None, gocardless.refresh_banks)
