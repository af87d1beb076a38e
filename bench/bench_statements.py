"""Statement import benchmark: 1,000,000-row Transactions CSV, a 100,000-entry CAMT.053 file, a mixed batch of
real-world-like files, and a 2 GB payments file.

Each file is generated in a temporary directory (the payments file in /tmp, deleted afterwards) and imported
into a fresh store; the CSV is then imported a second time to show that deduplication holds at that size. Each
import runs in its own process so that the peak memory printed (max RSS) belongs to that import alone.
Targets: 1M CSV rows imported and deduplicated in under 20 s; the 2 GB payments file imported with a peak
under 1 GB.

The mixed batch is what a bank's customers really send: OFX 2 headers over SGML bodies with decimal commas,
QFX card files in cp1252, MT940 with Dutch IBAN references and decimal points, MT942 interim reports, CAMT.053
.001.02 batches with amounts only in AmtDtls, a KWD statement, German and Dutch CSV exports.

    .venv/bin/python bench/bench_statements.py [--rows 1000000] [--entries 100000] [--mixed 200]
        [--payments-gb 2.0]      (modest scale while developing: --rows 100000 --entries 10000 --mixed 20
                                  --payments-gb 0.05)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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


def make_mixed(folder: Path, copies: int) -> list[Path]:
    """`copies` of each real-world-like layout from the tests, each copy with its own ids and amounts."""
    sys.path.insert(0, str(ROOT))
    from tests.statements.test_camt import document
    from tests.statements.test_camt_versions import BATCH_V02
    from tests.statements.test_mt940_lenient import DUTCH, KWD, MT942, RABO
    from tests.statements.test_ofx_lenient import QFX_CARD, _xml_over_sgml
    from tests.test_mappings import EXPORTS

    layouts: dict[str, tuple[str, object]] = {
        "ofx": (".ofx", lambda i: _xml_over_sgml(f"{i}.234,56", f"-{i % 90 + 1},30").replace(b"A-10",
                                                                                             f"A{i}-".encode())),
        "qfx": (".qfx", lambda i: QFX_CARD.replace("<FITID>C", f"<FITID>C{i}-").encode("cp1252")),
        "mt940": (".sta", lambda i: DUTCH.replace(":20:0000000000", f":20:{i:010d}").encode("cp1250")),
        "rabo": (".sta", lambda i: RABO.replace("170059286", f"17{i:07d}").encode()),
        "mt942": (".txt", lambda i: MT942.replace("K-77", f"K-{i}").encode()),
        "kwd": (".sta", lambda i: KWD.replace("INV-7", f"INV-{i}").encode()),
        "camt": (".xml", lambda i: document(BATCH_V02.replace("B-9", f"B-{i}"), version="02")),
        "de-csv": (".csv", lambda i: EXPORTS["de"][0].replace("RE-2025-118", f"RE-{i}").encode()),
        "nl-csv": (".csv", lambda i: EXPORTS["nl"][0].replace("2025-0042", f"{i}").encode()),
    }
    files = []
    for i in range(copies):
        for label, (suffix, make) in layouts.items():
            path = folder / f"{label}-{i}{suffix}"
            path.write_bytes(make(i))  # type: ignore[operator]
            files.append(path)
    return files


def run_mixed(db: str, folder: str) -> None:
    """Import every file of the mixed batch into one store, one connection per layout; prints a JSON line."""
    sys.path.insert(0, str(ROOT))
    from reconwb.statements.importer import import_file
    from reconwb.workspace import Workspace

    ws = Workspace.from_env(db)
    files = sorted(Path(folder).iterdir())
    imported = duplicates = warnings = 0
    started = time.perf_counter()
    with ws.connect() as con:
        for path in files:
            result = import_file(con, path, path.name.split("-")[0])
            imported += result.imported
            duplicates += result.duplicates
            warnings += len(result.warnings)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imported": imported, "duplicates": duplicates,
                      "files": len(files), "warnings": warnings}))


def make_payments(path: Path, gigabytes: float) -> int:
    """An invoicing export of about `gigabytes` (German headers, semicolons, decimal comma), written in chunks."""
    target = int(gigabytes * 2**30)
    rows = 0
    chunk = 500_000
    with path.open("wb") as fh:
        fh.write("Rechnungsnummer;Rechnungsdatum;Fällig am;Kunde;Verwendungszweck;Betrag;Währung\n".encode())
        while fh.tell() < target:
            i = pl.int_range(rows, rows + chunk, eager=True)
            frame = pl.DataFrame({"i": i}).select(
                id=pl.format("R-{}", pl.col("i")),
                issued=pl.format("{}.{}.2025", (pl.col("i") % 28 + 1).cast(pl.String).str.zfill(2),
                                 (pl.col("i") % 12 + 1).cast(pl.String).str.zfill(2)),
                due=pl.lit("30.12.2025"),
                payer=pl.format("Kunde {} GmbH", pl.col("i") % 100_000),
                reference=pl.format("RE {} / Auftrag {}", pl.col("i"), pl.col("i") % 7919),
                amount=pl.format("{},{}", pl.col("i") % 90_000 + 1,
                                 (pl.col("i") % 100).cast(pl.String).str.zfill(2)),
                currency=pl.lit("EUR"),
            )
            frame.write_csv(fh, include_header=False, separator=";")
            rows += chunk
    return rows


def run_payments(db: str, file: str) -> None:
    """`payments import` of one file in this process (`-` as DB: read and validate only, no store); prints a
    JSON line with the timing and peak memory."""
    sys.path.insert(0, str(ROOT))
    from reconwb import payments
    from reconwb.store import db as store_db
    from reconwb.workspace import Workspace

    started = time.perf_counter()
    if db == "-":
        result = {"imported": sum(frame.height for frame in payments.batches(Path(file)))}
    else:  # as `reconwb payments import` does: read and checked outside the store, applied in short chunks
        result = payments.import_into(Workspace.from_env(db), Path(file))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imported": result["imported"], "duplicates": 0,
                      "longest_hold": store_db.hold_stats().longest}))


def run_import(db: str, file: str, connection: str) -> None:
    """One import in this process; prints a JSON line with the timing and peak memory."""
    sys.path.insert(0, str(ROOT))
    from reconwb.statements import parse
    from reconwb.statements.importer import import_into
    from reconwb.store import db as store_db
    from reconwb.workspace import Workspace

    ws = Workspace.from_env(db)
    started = time.perf_counter()
    fmt, statements = parse(Path(file))  # as `reconwb statements import` does: big files in short chunks
    result = import_into(ws, statements, connection, file=Path(file), fmt=fmt)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imported": result.imported,
                      "duplicates": result.duplicates, "warnings": len(result.warnings),
                      "longest_hold": store_db.hold_stats().longest}))


def measured(db: Path, file: Path, connection: str, mode: str = "--run-import") -> dict:
    args = [str(db), str(file)] + ([connection] if mode == "--run-import" else [])
    done = subprocess.run([sys.executable, __file__, mode, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(label: str, rows: int, figures: dict) -> None:
    print(f"{label:<34} {figures['seconds']:7.2f} s  {rows / figures['seconds']:>10,.0f} rows/s"
          f"  peak {figures['peak_mb']:6.0f} MB  imported {figures['imported']:,}"
          f"  duplicates {figures['duplicates']:,}  longest store hold {figures.get('longest_hold', 0):.2f} s")


def make_mt940(path: Path, transactions: int) -> None:
    """One MT940 statement of `transactions` lines (a big company's month); reading it must stay linear."""
    with path.open("w", encoding="ascii") as fh:
        fh.write("{1:F01BENCNL2AXXXX0000000000}{2:O94000000000000000000000000000000000000000N}{3:}{4:\n"
                 ":20:BENCH\n:25:NL44SNSB0917263545\n:28C:1/1\n:60F:C250610EUR0,00\n")
        for i in range(transactions):
            fh.write(f":61:2506110611C{1 + i % 997},{i % 100:02d}NTRFINV-{i:08d}\n"
                     f":86:NL02RABO0123456789 customer {i % 5000} invoice INV-{i:08d}\n")
        total = sum(100 * (1 + i % 997) + i % 100 for i in range(transactions))
        fh.write(f":62F:C250612EUR{total // 100},{total % 100:02d}\n-}}{{5:}}\n")


def statement_files(tmp_path: Path, rows: int, entries: int) -> None:
    """The 1M-row CSV (imported twice) and the CAMT.053 file."""
    csv_file, camt_file = tmp_path / "transactions.csv", tmp_path / "camt053.xml"
    make_csv(csv_file, rows)
    make_camt(camt_file, entries)
    print(f"CSV {csv_file.stat().st_size / 2**20:.0f} MB ({rows:,} rows),"
          f" CAMT {camt_file.stat().st_size / 2**20:.0f} MB ({entries:,} entries)")
    db = tmp_path / "csv.duckdb"
    first = measured(db, csv_file, "bench-csv")
    report("CSV import (fresh store)", rows, first)
    again = measured(db, csv_file, "bench-csv")
    report("CSV re-import (all duplicates)", rows, again)
    report("CSV import + dedup re-import", rows,
           {**again, "seconds": first["seconds"] + again["seconds"], "imported": first["imported"],
            "peak_mb": max(first["peak_mb"], again["peak_mb"])})
    camt = measured(tmp_path / "camt.duckdb", camt_file, "bench-camt")
    report("CAMT.053 import (fresh store)", entries, camt)
    mt940_file = tmp_path / "statement.sta"
    make_mt940(mt940_file, entries)
    report(f"MT940 import ({mt940_file.stat().st_size / 2**20:.0f} MB)", entries,
           measured(tmp_path / "mt940.duckdb", mt940_file, "bench-mt940"))
    ok = first["seconds"] + again["seconds"] < 20 and again["imported"] == 0
    print(f"target (1M CSV rows imported + deduplicated < 20 s): {'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--mixed", type=int, default=200, help="copies of each real-world-like layout")
    parser.add_argument("--payments-gb", type=float, default=2.0, help="size of the payments file; 0 skips it")
    parser.add_argument("--run-import", nargs=3, metavar=("DB", "FILE", "CONNECTION"))
    parser.add_argument("--run-mixed", nargs=2, metavar=("DB", "FOLDER"))
    parser.add_argument("--run-payments", nargs=2, metavar=("DB", "FILE"))
    args = parser.parse_args()
    if args.run_import:
        run_import(*args.run_import)
        return
    if args.run_mixed:
        run_mixed(*args.run_mixed)
        return
    if args.run_payments:
        run_payments(*args.run_payments)
        return
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
          f" on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="reconwb-bench-") as tmp:
        tmp_path = Path(tmp)
        if args.rows and args.entries:
            statement_files(tmp_path, args.rows, args.entries)
        if args.mixed:
            folder = tmp_path / "mixed"
            folder.mkdir()
            files = make_mixed(folder, args.mixed)
            mixed = measured(tmp_path / "mixed.duckdb", folder, "", "--run-mixed")
            print(f"mixed batch: {len(files):,} files ({len(files) // args.mixed} layouts) in"
                  f" {mixed['seconds']:.2f} s ({len(files) / mixed['seconds']:,.0f} files/s),"
                  f" {mixed['imported']:,} lines stored, {mixed['duplicates']:,} duplicates (copies that repeat a"
                  f" line), {mixed['warnings']:,} warnings, peak {mixed['peak_mb']:.0f} MB")
    if args.payments_gb > 0:
        with tempfile.TemporaryDirectory(prefix="reconwb-bench-payments-", dir="/tmp") as tmp:
            file = Path(tmp) / "invoices.csv"
            rows = make_payments(file, args.payments_gb)
            size_gb = file.stat().st_size / 2**30
            for label, db in (("read + validate (no store)", "-"), ("import into a store", "payments.duckdb")):
                figures = measured(Path(tmp) / db if db != "-" else Path("-"), file, "", "--run-payments")
                print(f"payments {label}: {size_gb:.2f} GB, {rows:,} rows in {figures['seconds']:.1f} s"
                      f" ({rows / figures['seconds']:,.0f} rows/s), peak {figures['peak_mb']:.0f} MB,"
                      f" longest store hold {figures.get('longest_hold', 0):.2f} s"
                      f" (goal < 1024 MB: {'met' if figures['peak_mb'] < 1024 else 'NOT met'})", flush=True)
        # the temporary directory, the 2 GB file and its store are gone here


if __name__ == "__main__":
    main()
