"""HTTP for API connectors: timeouts, retries with backoff for passing faults, and those faults as taxonomy.

A provider API call that times out, drops the connection or answers 5xx is tried again a few times, waiting
longer each time; after the last try it is `Transient`. What any other answer means is the connector's call.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx

from reconwb.connectors import errors as taxonomy
from reconwb.redaction import redact_exception

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRIES = 3  # attempts per request for timeouts, dropped connections and 5xx
BACKOFF = 0.25  # seconds, doubled per attempt, with jitter


def server_fault(response: httpx.Response) -> bool:
    return response.status_code >= 500


async def send(http: httpx.AsyncClient, method: str, path: str, *, label: str, retries: int = RETRIES,
               backoff: float = BACKOFF, retry_when: Callable[[httpx.Response], bool] = server_fault,
               **kwargs: Any) -> httpx.Response:
    """The first answer that is not a passing fault; `Transient` when every try met one."""
    last: taxonomy.ConnectorError | None = None
    for attempt in range(1, retries + 1):
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.TimeoutException as err:
            last = taxonomy.Transient(f"{label} {path}: timed out ({type(err).__name__})")
        except httpx.TransportError as err:
            last = taxonomy.Transient(f"{label} {path}: {type(err).__name__}: {redact_exception(err)}")
        else:
            if not retry_when(response):
                return response
            last = taxonomy.Transient(f"{label} {path}: HTTP {response.status_code}")
        if attempt < retries:
            await asyncio.sleep(backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
    assert last is not None
    raise last
