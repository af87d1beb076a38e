"""Helpers for the webhook tests: endpoints, events, a clock the test moves, and reading the outbox."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reconwb import events
from reconwb.store.db import transaction
from reconwb.webhooks import endpoints
from reconwb.workspace import Workspace


class Clock:
    """Wall-clock seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = time.time() + 60  # ahead of the rows the test writes next (they use the real clock)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def add_endpoint(ws: Workspace):
    def add(url: str, *, auth: str = "bearer", token: str | None = "tok-Abc123-secret", events_filter=None):
        with ws.connect() as con:
            return endpoints.add(con, ws.vault(), url, auth=auth, token=token, event_types=events_filter)

    return add


def emit_many(ws: Workspace, n: int, type: str = "transaction.created") -> list[str]:
    with ws.connect() as con, transaction(con):
        return [events.emit(con, type, {"n": i, "amount": f"{i}.50"}, subject=f"txn/{i}") for i in range(n)]


def deliveries(ws: Workspace) -> dict[str, dict[str, Any]]:
    with ws.connect() as con:
        cur = con.execute("SELECT * FROM webhook_deliveries")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def attempts(ws: Workspace) -> list[dict[str, Any]]:
    with ws.connect() as con:
        cur = con.execute("SELECT * FROM webhook_attempts ORDER BY attempt_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
