"""The `reconwb statements` and `reconwb transactions export` commands, run as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.statements.conftest import DATA, FIXTURES

POSTFINANCE = FIXTURES / "camt" / "camt053_postfinance_2016.xml"


def test_parse_prints_transactions_csv_fields(run_cli) -> None:
    done = run_cli("statements", "parse", str(FIXTURES / "camt" / "camt054_batch_booking.xml"), check=True)
    rows = json.loads(done.stdout)
    assert [r["amount"] for r in rows] == ["111.00", "2.00"]  # decimal strings, never floats
    assert list(rows[0])[:8] == ["txn_id", "account_id", "booked_on", "amount", "currency", "description",
                                 "reference", "counterparty"]
    assert {"value_date", "counterparty_iban", "status", "bank_txn_id"} <= set(rows[0])
    assert rows[0]["txn_id"] == rows[0]["bank_txn_id"] == "2017072700000000000/170727CH00A1ABCD"
    assert rows[0]["account_id"] == "CH160077401231234567"


def test_parse_with_format_and_preset(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("Date;Value date;Description;Reference;Counterparty;Amount;Currency\n"
                    "02.03.2026;;Miete;;Haus;-1.250,50;EUR\n")
    done = run_cli("statements", "parse", str(path), "--preset", "eu-semicolon", check=True)
    [row] = json.loads(done.stdout)
    assert (row["amount"], row["booked_on"]) == ("-1250.50", "2026-03-02")
    done = run_cli("statements", "parse", str(DATA / "checking_v102.ofx"), "--format", "ofx", check=True)
    assert sum(Decimal(r["amount"]) for r in json.loads(done.stdout)) == Decimal("907.63")


def test_import_twice_then_export(run_cli, tmp_path: Path) -> None:
    first = run_cli("statements", "import", str(POSTFINANCE), "--connection", "pf", "--json", check=True)
    assert json.loads(first.stdout)["imported"] == 32
    second = json.loads(run_cli("statements", "import", str(POSTFINANCE), "--connection", "pf", "--json",
                                check=True).stdout)
    assert (second["imported"], second["duplicates"], second["updated"], second["warnings"]) == (0, 32, 0, [])
    listed = json.loads(run_cli("connections", "list", "--json", check=True).stdout)
    assert [(c["name"], c["bank"], c["connector"], c["health"]) for c in listed] == [("pf", "files", "statement",
                                                                                       "ok")]
    out = tmp_path / "tx.csv"
    run_cli("transactions", "export", "--connection", "pf", "--out", str(out), check=True)
    lines = out.read_text().splitlines()
    assert lines[0] == "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty"
    assert len(lines) == 33
    assert all(",CH0309000000250090342," in line for line in lines[1:])


def test_import_reports_balance_warnings(run_cli) -> None:
    done = run_cli("statements", "import", str(FIXTURES / "mt940" / "jejik" / "ing.sta"), "--connection", "ing",
                   "--json", check=True)
    result = json.loads(done.stdout)
    assert result["imported"] == 7
    assert len(result["warnings"]) == 1 and "closing balance is 3.47" in result["warnings"][0]


def _fails_cleanly(done, *fragments: str) -> None:
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_broken_fixture_fails_and_stores_nothing(run_cli) -> None:
    broken = FIXTURES / "mt940" / "betterplace" / "sepa_snippet_broken.sta"
    done = run_cli("statements", "import", str(broken), "--connection", "bad", "--json")
    _fails_cleanly(done, "sepa_snippet_broken.sta:6:")
    assert json.loads(run_cli("connections", "list", "--json", check=True).stdout) == []


@pytest.mark.parametrize(
    ("content", "fmt", "fragments"),
    [
        (b"", "auto", ["empty.dat", "empty"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "auto", ["empty.dat", "binary"]),
        (b"<?xml version='1.0'?><!DOCTYPE Document [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
         b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.04'><x>&x;</x></Document>", "auto",
         ["empty.dat", "refused"]),
        (b"just some words\n", "auto", ["empty.dat:1:", "unknown statement format"]),
        (b":20:X\n:25:1\n:60F:C260301EUR1,00\n:61:26030", "mt940", ["empty.dat:4:", ":61:", "not a statement line"]),
    ],
    ids=["empty", "binary", "hostile", "unknown", "truncated"],
)
def test_bad_files(run_cli, tmp_path: Path, content: bytes, fmt: str, fragments: list[str]) -> None:
    path = tmp_path / "empty.dat"
    path.write_bytes(content)
    _fails_cleanly(run_cli("statements", "import", str(path), "--connection", "c", "--format", fmt), *fragments)


def test_huge_files_are_refused_quickly(run_cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.sta"
    with huge.open("wb") as fh:
        fh.write(b":20:X\n:25:1\n:60F:C260301EUR1,00\n")
        fh.truncate(100 * 2**20)  # 100 MB (sparse)
    _fails_cleanly(run_cli("statements", "parse", str(huge), "--format", "mt940"), "huge.sta", "100 MB")
    _fails_cleanly(run_cli("statements", "parse", str(huge)), "huge.sta", "binary")


def test_missing_file_and_bad_options(run_cli, tmp_path: Path) -> None:
    _fails_cleanly(run_cli("statements", "parse", str(tmp_path / "nope.csv")), "nope.csv", "no such file")
    mapping = tmp_path / "m.json"
    mapping.write_text("[]")
    _fails_cleanly(run_cli("statements", "parse", str(POSTFINANCE), "--mapping", str(mapping)), "m.json")


def test_import_a_bank_export_with_map_options_and_a_clear_refusal(run_cli, tmp_path: Path) -> None:
    export = tmp_path / "umsaetze.csv"
    export.write_text("Umsätze Girokonto\nTag;Was;Wieviel\n01.07.2025;Miete;-1.200,00\n02.07.2025;Gehalt;3.100,55\n",
                      encoding="utf-8")
    refused = run_cli("statements", "import", str(export), "--connection", "giro")
    assert refused.returncode != 0 and refused.stdout == ""
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: umsaetze.csv:2: a transactions file needs `booked_on`")
    assert "'Tag', 'Was', 'Wieviel'" in line
    done = run_cli("statements", "import", str(export), "--connection", "giro", "--map", "booked_on=Tag",
                   "--map", "amount=Wieviel", "--map", "description=Was", "--map", "currency=EUR", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 2
