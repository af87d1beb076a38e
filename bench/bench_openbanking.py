"""Plaid and GoCardless against their simulators on loopback: prints its figures, asserts nothing.

- link: N connections per provider linked (link token or agreement + requisition, the Link/consent stand-in,
  exchange, /item/get) one after another, time per connection;
- fetch: the N connections synced at once (`sync_many`), transactions landed per second;
- webhook verification: Plaid webhooks verified (ES256 JWT, cached key, body hash) per second.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402

from reconwb import connections, sync  # noqa: E402
from reconwb.cli.admin import init_workspace  # noqa: E402
from reconwb.openbanking import gocardless, linking, plaid, webhooks  # noqa: E402
from reconwb.sim.gocardless import start_gocardless  # noqa: E402
from reconwb.sim.plaid import INSTITUTIONS, start_plaid  # noqa: E402
from reconwb.workspace import Workspace  # noqa: E402

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "10"))
WEBHOOKS = int(os.environ.get("BENCH_WEBHOOKS", "500"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace(Path(tmp) / "data" / "reconwb.duckdb")
        init_workspace(ws)
        plaid_sim, gocardless_sim = start_plaid(), start_gocardless()
        try:
            with ws.connect() as con:
                plaid.configure(con, ws.vault(), url=plaid_sim.url, client_id=plaid_sim.state.client_id,
                                secret=plaid_sim.state.secret, link_mode="simulator")
                gocardless.configure(con, ws.vault(), url=gocardless_sim.url,
                                     secret_id=gocardless_sim.state.secret_id,
                                     secret_key=gocardless_sim.state.secret_key, link_mode="simulator")
            plaid.refresh_banks(ws)
            gocardless.refresh_banks(ws)
            for provider, bank in (("plaid", INSTITUTIONS[0][0]), ("gocardless", "SANDBOXFINANCE_SFIN0000")):
                names = [f"{provider}-{i}" for i in range(CONNECTIONS)]
                started = time.perf_counter()
                for name in names:
                    with ws.connect() as con:
                        connections.add(con, name, bank, username="healthy")
                    linking.link(ws, name)
                linked = time.perf_counter() - started
                started = time.perf_counter()
                results = sync.sync_many(ws, names, concurrency=4, progress=False)
                fetch = time.perf_counter() - started
                inserted = sum(r.inserted for r in results)
                print(f"{provider} link: {CONNECTIONS} connections in {linked:.2f} s"
                      f" ({linked / CONNECTIONS * 1000:.0f} ms each)")
                print(f"{provider} fetch: {CONNECTIONS} connections, {inserted} txns in {fetch:.2f} s"
                      f" ({inserted / fetch:.0f} txns/s, {fetch / CONNECTIONS * 1000:.0f} ms per connection,"
                      f" {sum(r.status == 'ok' for r in results)} ok)")
            state = plaid_sim.state
            body = json.dumps({"webhook_type": "TRANSACTIONS", "webhook_code": "DEFAULT_UPDATE",
                               "item_id": "x"}).encode()
            claims = {"iat": int(time.time()), "request_body_sha256": hashlib.sha256(body).hexdigest()}
            headers = {"plaid-verification": jwt.encode(claims, state.key, algorithm="ES256",
                                                        headers={"kid": state.kid})}
            webhooks.verify(ws, "plaid", body, headers)  # the key is fetched once, then cached
            started = time.perf_counter()
            for _ in range(WEBHOOKS):
                webhooks.verify(ws, "plaid", body, headers)
            verified = time.perf_counter() - started
            print(f"plaid webhook verification: {WEBHOOKS} in {verified:.2f} s ({WEBHOOKS / verified:.0f}/s)")
        finally:
            plaid_sim.stop()
            gocardless_sim.stop()


if __name__ == "__main__":
    main()
