"""Connectors stay thin plugins: nothing in `reconwb/connectors/` imports the engine or the service above it."""

from __future__ import annotations

import ast
from pathlib import Path

import reconwb.connectors

ENGINE = ("reconwb.sync", "reconwb.openbanking", "reconwb.lifecycle", "reconwb.connections", "reconwb.jobs",
          "reconwb.webhooks", "reconwb.matching", "reconwb.store")


def test_no_connector_imports_the_engine() -> None:
    found = []
    for path in Path(reconwb.connectors.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith(ENGINE)]
    assert found == []
    assert {"aggregator.py", "plaid.py", "gocardless.py"} <= {p.name for p in
                                                             Path(reconwb.connectors.__file__).parent.glob("*.py")}
