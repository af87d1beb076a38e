"""Statement import benchmark: 1,000,000-row Transactions CSV and a 100,000-entry CAMT.053 file.

Each file is generated in a temporary directory and imported into a fresh store; the CSV is then imported a
second time to show that deduplication holds at that size. Each import runs in its own process so that the
peak memory printed (max RSS) belongs to that import alone. Target: 1M CSV rows imported and deduplicated in
under 20 s.

    .venv/bin/python bench/bench_statements.py [--rows 1000000] [--entries 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent


def make_csv(path: Path, rows: int) -> None:
    """Transactions CSV: 20 accounts, 2 years of dates, half the lines with a bank id."""
    idx = pl.int_range(rows, eager=True)
    start = dt.date(2024, 1, 1)
    frame = pl.DataFrame({"i": idx}).select(
        txn_id=pl.when(pl.col("i") % 2 == 0).then(pl.format("B{}", pl.col("i"))).otherwise(pl.lit("")),
        account_id=pl.format("CH93007620116238529{}", (pl.col("i") % 20).cast(pl.String).str.zfill(2)),
        booked_on=(pl.lit(start) + pl.duration(days=pl.col("i") % 730)).cast(pl.Date),
        amount=pl.format("{}.{}", (pl.col("i") * 7919 % 200000 - 100000), (pl.col("i") % 100).cast(pl.String)
                         .str.zfill(2)),
        currency=pl.lit("CHF"),
        description=pl.format("payment {}", pl.col("i") % 50000),
        reference=pl.format("RF{}", pl.col("i") % 99991),
        counterparty=pl.format("Customer {}", pl.col("i") % 1000),
    )
    frame.write_csv(path)


def make_camt(path: Path, entries: int) -> None:
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2026-01-31T18:00:00</CreDtTm></GrpHdr>"
        "<Stmt><Id>BENCH-1</Id><Acct><Id><IBAN>CH9300762011623852957</IBAN></Id><Ccy>CHF</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">1000.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>\n"
    )
    total = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head)
        for i in range(entries):
            cents = (i * 7919) % 100000 + 1
            credit = i % 3 != 0
            total += cents if credit else -cents
            day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 28)
            fh.write(
                f'<Ntry><Amt Ccy="CHF">{cents // 100}.{cents % 100:02d}</Amt>'
                f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>"
                f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
                f"<AcctSvcrRef>E{i:09d}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>E2E-{i}</EndToEndId>"
                f"</Refs><RltdPties><Dbtr><Nm>Customer {i % 1000}</Nm></Dbtr></RltdPties>"
                f"<RmtInf><Ustrd>invoice {i}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
            )
        closing = 100000 + total
        fh.write(
            f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">{closing // 100}.{closing % 100:02d}'
            "</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-31</Dt></Dt></Bal></Stmt></BkToCstmrStmt></Document>\n"
        )


def run_import(db: str, file: str, connection: str) -> None:
    """One import in this process; prints a JSON line with the timing and peak memory."""
    sys.path.insert(0, str(ROOT))
    from reconwb.statements.importer import import_file
    from reconwb.workspace import Workspace

    ws = Workspace.from_env(db)
    started = time.perf_counter()
    with ws.connect() as con:
        result = import_file(con, Path(file), connection)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imported": result.imported,
                      "duplicates": result.duplicates, "warnings": len(result.warnings)}))


def measured(db: Path, file: Path, connection: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--run-import", str(db), str(file), connection],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(label: str, rows: int, figures: dict) -> None:
    print(f"{label:<34} {figures['seconds']:7.2f} s  {rows / figures['seconds']:>10,.0f} rows/s"
          f"  peak {figures['peak_mb']:6.0f} MB  imported {figures['imported']:,}"
          f"  duplicates {figures['duplicates']:,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--run-import", nargs=3, metavar=("DB", "FILE", "CONNECTION"))
    args = parser.parse_args()
    if args.run_import:
        run_import(*args.run_import)
        return
    with tempfile.TemporaryDirectory(prefix="reconwb-bench-") as tmp:
        tmp_path = Path(tmp)
        csv_file, camt_file = tmp_path / "transactions.csv", tmp_path / "camt053.xml"
        make_csv(csv_file, args.rows)
        make_camt(camt_file, args.entries)
        print(f"CSV {csv_file.stat().st_size / 2**20:.0f} MB ({args.rows:,} rows),"
              f" CAMT {camt_file.stat().st_size / 2**20:.0f} MB ({args.entries:,} entries)")
        db = tmp_path / "csv.duckdb"
        first = measured(db, csv_file, "bench-csv")
        report("CSV import (fresh store)", args.rows, first)
        again = measured(db, csv_file, "bench-csv")
        report("CSV re-import (all duplicates)", args.rows, again)
        report("CSV import + dedup re-import", args.rows,
               {**again, "seconds": first["seconds"] + again["seconds"], "imported": first["imported"],
                "peak_mb": max(first["peak_mb"], again["peak_mb"])})
        camt = measured(tmp_path / "camt.duckdb", camt_file, "bench-camt")
        report("CAMT.053 import (fresh store)", args.entries, camt)
        ok = first["seconds"] + again["seconds"] < 20 and again["imported"] == 0
        print(f"target (1M CSV rows imported + deduplicated < 20 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
