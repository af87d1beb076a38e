"""The engine's two entry points: file mode carries no store machinery and no scipy into its process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.matching.helpers import PAY_HEADER, TXN_HEADER, pay, txn, write_csv

_PROBE = """
import json, sys
from pathlib import Path
import reconwb.matching as matching
light = sorted(m for m in ("duckdb", "scipy", "httpx") if m in sys.modules)
report = matching.reconcile_files(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
print(json.dumps({"after_import": light, "after_run": sorted(m for m in ("scipy",) if m in sys.modules),
                  "links": report.links}))
"""


def test_file_mode_imports_neither_the_store_nor_scipy(tmp_path: Path) -> None:
    # a subscriber's three monthly deposits for three equal monthly invoices: one component the engine solves
    # (each deposit reaches its month's invoice and the earlier ones'), without scipy
    deposits = [txn(f"T{m}", "49.00", f"2026-0{m}-15", counterparty="Pine Media") for m in (1, 2, 3)]
    invoices = [pay(f"P{m}", "49.00", f"2026-0{m}-28", payer="Pine Media AG", issued_on=f"2026-0{m}-01")
                for m in (1, 2, 3)]
    t = write_csv(tmp_path / "t.csv", TXN_HEADER, deposits)
    p = write_csv(tmp_path / "p.csv", PAY_HEADER, invoices)
    done = subprocess.run([sys.executable, "-c", _PROBE, str(t), str(p), str(tmp_path / "m.csv")],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_import"] == [] and seen["after_run"] == []
    assert seen["links"] == 3
