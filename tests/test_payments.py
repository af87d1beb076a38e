"""Expected payments: file import (CSV, Parquet), and pulls from a real HTTP endpoint on loopback."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwb import payments
from reconwb.errors import InvalidInput, NotFound
from reconwb.workspace import Workspace

HEADER = "payment_id,amount,currency,issued_on,due_on,reference,payer\n"
TOKEN = "tok-s3cr3t-4711"  # noqa: S105 (a test token)


def _csv(path: Path, body: str) -> Path:
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _rows(ws: Workspace) -> dict[str, tuple]:
    with ws.connect() as con:
        rows = con.execute("SELECT payment_id, amount, status, source, reference FROM payments").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_import_csv_is_exact_and_idempotent(ws: Workspace, tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", "P1,0.10,eur,2026-03-01,2026-03-15,INV-1,Acme\nP2,1234567.89,EUR,,,INV-2,\n")
    with ws.connect() as con:
        assert payments.import_file(con, path) == {"imported": 2, "updated": 0, "unchanged": 0}
        assert payments.import_file(con, path) == {"imported": 0, "updated": 0, "unchanged": 2}
    rows = _rows(ws)
    assert rows["P1"][:3] == (Decimal("0.10"), "open", "file")
    assert rows["P2"][0] == Decimal("1234567.89")


def test_import_updates_open_payments_only(ws: Workspace, tmp_path: Path) -> None:
    with ws.connect() as con:
        payments.import_file(con, _csv(tmp_path / "a.csv", "P1,10.00,EUR,,,A,\nP2,20.00,EUR,,,B,\n"))
        con.execute("UPDATE payments SET status = 'paid' WHERE payment_id = 'P2'")
        result = payments.import_file(con, _csv(tmp_path / "b.csv", "P1,11.00,EUR,,,A,\nP2,21.00,EUR,,,B,\n"))
    assert result == {"imported": 0, "updated": 1, "unchanged": 1}
    rows = _rows(ws)
    assert rows["P1"][0] == Decimal("11.00") and rows["P2"][0] == Decimal("20.00")


def test_import_parquet(ws: Workspace, tmp_path: Path) -> None:
    frame = pl.DataFrame({"payment_id": ["P9"], "amount": [Decimal("99.95")], "currency": ["CHF"],
                          "issued_on": [None], "due_on": ["2026-04-01"], "reference": ["Q"], "payer": ["Z"]},
                         schema_overrides={"amount": pl.Decimal(18, 2), "issued_on": pl.Date})
    frame.write_parquet(tmp_path / "p.parquet")
    with ws.connect() as con:
        payments.import_file(con, tmp_path / "p.parquet")
    assert _rows(ws)["P9"][0] == Decimal("99.95")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("P1,10.00,EUR,,,A,\nP2,ten,EUR,,,B,\n", r"line 3: amount 'ten' is not a decimal amount"),
        ("P1,10.001,EUR,,,A,\n", r"line 2: amount 10.001 has more decimals than EUR allows \(2\); it is not rounded"),
        ("P1,-5.00,EUR,,,A,\n", r"line 2: amount must be positive"),
        ("P1,5.00,EUR,2026-13-01,,A,\n", r"line 2: issued_on '2026-13-01' is not an ISO date"),
        ("P1,5.00,EURO,,,A,\n", r"line 2: currency 'EURO' is not a 3-letter code"),
        ("P1,5.00,EUR,,,A,\nP1,6.00,EUR,,,B,\n", r"line 3: payment_id 'P1' appears more than once"),
        (",5.00,EUR,,,A,\n", r"line 2: payment_id is empty"),
    ],
)
def test_bad_files_are_rejected_whole_with_the_line(ws: Workspace, tmp_path: Path, body: str, message: str) -> None:
    path = _csv(tmp_path / "bad.csv", body)
    with ws.connect() as con, pytest.raises(InvalidInput, match=message):
        payments.import_file(con, path)
    assert _rows(ws) == {}


def test_a_file_read_in_many_blocks_is_still_all_or_nothing(ws: Workspace, tmp_path: Path) -> None:
    """Blocks of 3 payments: an id repeated in a later block, or a bad value in the last one, names its file line
    and stores nothing; a good file stores every block, and the store's memory setting is given back."""
    good = "".join(f"P{i},{i}.05,EUR,,,R{i},Payer {i}\n" for i in range(1, 11))
    with ws.connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()
        with pytest.raises(InvalidInput, match=r"repeat\.csv: line 12: payment_id 'P2' appears more than once"):
            payments.import_file(con, _csv(tmp_path / "repeat.csv", good + "P2,1.00,EUR,,,X,\n"), rows=3)
        with pytest.raises(InvalidInput, match=r"late\.csv: line 13: amount '1,5' is not a decimal amount"):
            payments.import_file(con, _csv(tmp_path / "late.csv", good + 'P11,1.00,EUR,,,X,\nP12,"1,5",EUR,,,Y,\n'),
                                 rows=3)
        assert con.execute("SELECT count(*) FROM payments").fetchall() == [(0,)]
        assert payments.import_file(con, _csv(tmp_path / "good.csv", good), rows=3)["imported"] == 10
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == limit
    assert _rows(ws)["P10"][0] == Decimal("10.05")


def test_blank_lines_are_skipped_and_later_lines_keep_their_numbers(ws: Workspace, tmp_path: Path) -> None:
    body = "\nP1,1.00,EUR,,,A,\n\r\n\nP2,2.00,EUR,,,B,\nP3,x,EUR,,,C,\n\n"
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"blank\.csv: line 7: amount 'x' is not a decimal"):
        payments.import_file(con, _csv(tmp_path / "blank.csv", body), rows=1)
    with ws.connect() as con:
        counts = payments.import_file(con, _csv(tmp_path / "blank.csv", body.replace(",x,", ",3.00,")), rows=1)
    assert counts["imported"] == 3
    ragged = "P1,1.00,EUR,,,A,\n\nP2,2.00,EUR,,,B,,,\n"
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"ragged\.csv: line 4: 9 fields where the header"):
        payments.import_file(con, _csv(tmp_path / "ragged.csv", ragged))


def test_two_threads_importing_the_same_new_payments_store_each_once(ws: Workspace, tmp_path: Path) -> None:
    """The key has no index (migration 0018): the one writer keeps it, also when a process imports twice at once."""
    path = _csv(tmp_path / "same.csv", "".join(f"P{i},{i}.00,EUR,,,R{i},\n" for i in range(1, 2001)))
    results: list[dict] = []

    def run() -> None:
        with ws.connect() as con:
            results.append(payments.import_file(con, path, rows=100))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["imported"] for r in results) == [0, 2000]
    with ws.connect() as con:
        assert con.execute("SELECT count(*), count(DISTINCT payment_id) FROM payments").fetchall() == [(2000, 2000)]


GERMAN = "Rechnungsnummer;Rechnungsdatum;Fällig am;Kunde;Verwendungszweck;Betrag;Währung\n" \
         "R-1;01.02.2025;15.02.2025;Müller & Söhne GmbH;Straßenbau Größe €;1.234,50;EUR\n"
FRENCH = "Numéro facture,Date facture,Échéance,Client,Référence,Montant,Devise\n" \
         "F-1,01/02/2025,15/02/2025,Hélène Lefèvre,Crème brûlée à emporter,\"99,90\",EUR\n"


@pytest.mark.parametrize(("text", "encoding", "payer"), [
    (GERMAN, "cp1252", "Müller & Söhne GmbH"), (GERMAN, "latin-1", "Müller & Söhne GmbH"),
    (GERMAN, "utf-8-sig", "Müller & Söhne GmbH"), (FRENCH, "cp1252", "Hélène Lefèvre"),
    (FRENCH, "latin-1", "Hélène Lefèvre"), (FRENCH, "utf-8-sig", "Hélène Lefèvre"),
])
def test_exports_in_single_byte_code_pages_and_with_a_bom_are_detected(ws: Workspace, tmp_path: Path, text: str,
                                                                       encoding: str, payer: str) -> None:
    path = tmp_path / "export.csv"
    body = text if encoding != "latin-1" else text.replace("€", "EUR")  # Latin-1 has no euro sign
    path.write_bytes(body.encode(encoding))
    with ws.connect() as con:
        assert payments.import_file(con, path, rows=1)["imported"] == 1
        row = con.execute("SELECT payer, reference FROM payments").fetchall()[0]
    assert row == (payer, body.splitlines()[1].split(";" if ";" in body else ",")[4])


def test_a_byte_the_detected_encoding_cannot_read_names_its_line(ws: Workspace, tmp_path: Path) -> None:
    """The first non-ASCII lines are UTF-8, a later one is not: refused at that line, nothing stored."""
    path = tmp_path / "mixed.csv"
    path.write_bytes((HEADER + "P1,1.00,EUR,,,Größe,\nP2,2.00,EUR,,,B,\n").encode() + b"P3,3.00,EUR,,,Gr\xf6\xdfe,\n")
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"mixed\.csv: line 4: not valid utf-8 text"):
        payments.import_file(con, path, rows=1)
    assert _rows(ws) == {}
    path.write_bytes((HEADER + "P1,1.00,EUR,,,Café,\n").encode("cp1252") + b"P2,2.00,EUR,,,\x81,\n")
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"mixed\.csv: line 3: not valid cp1252 text"):
        payments.import_file(con, path, {"encoding": "cp1252"})  # as given: 0x81 is not a cp1252 character
    assert _rows(ws) == {}


SEEDS = [
    (HEADER + "P1,10.00,EUR,2026-03-01,2026-03-15,INV-1,Acme\nP2,1.235,KWD,,,INV-2,\"Lee, J\"\n").encode(),
    GERMAN.encode("cp1252"), FRENCH.encode("utf-8-sig"),
    ("invoice_id;total;currency;date;ref;customer\nA-1;7.640,10;EUR;01.06.2025;R 1;Müller\n").encode("latin-1"),
]


@st.composite
def mutated_payments(draw) -> bytes:
    """A payments export with bytes flipped, inserted or deleted, or a line repeated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup_line"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=6) | st.sampled_from(
                [b",", b";", b'"', b"\n", b"\r\n", b"-", b".", b"\xff", b"\xe4", b"99999999999999999"]))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 20))]
        else:
            lines = bytes(data).split(b"\n")
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines[draw(st.integers(0, len(lines) - 1))])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=mutated_payments())
def test_mutated_exports_are_imported_whole_or_refused_with_file_and_line(ws: Workspace, tmp_path: Path,
                                                                         data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    with ws.connect() as con:
        con.execute("DELETE FROM payments")
        try:
            counts = payments.import_file(con, path, rows=1)
        except InvalidInput as err:
            message = str(err)
            assert "\n" not in message.strip() and message.startswith(str(path)), message
            assert re.match(rf"{re.escape(str(path))}(: line |:)\d+: ", message), message
            assert con.execute("SELECT count(*) FROM payments").fetchall() == [(0,)]
        else:
            stored = con.execute("SELECT count(*), count(DISTINCT payment_id) FROM payments").fetchall()[0]
            assert stored[0] == stored[1] == counts["imported"]


def test_missing_column_is_named(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("payment_id,amount\nP1,1.00\n")
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"p\.csv:1: a payments file needs `currency`; the"
                                            r" file has columns 'payment_id', 'amount'"):
        payments.import_file(con, path)


# -- the endpoint ------------------------------------------------------------------------------------------------


class Endpoint:
    """A customer's pending-payments endpoint: paginated JSON, checks the token, can fail on purpose."""

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []
        self.page_size = 2
        self.fail_next = 0
        self.style = "next"  # next | pages
        self.requests: list[dict[str, str]] = []
        self.expect = ("bearer", TOKEN)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                endpoint.requests.append(dict(self.headers))
                scheme, token = endpoint.expect
                ok = (self.headers.get("Authorization") == f"Bearer {token}" if scheme == "bearer"
                      else self.headers.get("Api-Key") == token)
                if not ok:
                    return self._send(401, {"error": "unauthorized"})
                if endpoint.fail_next:
                    endpoint.fail_next -= 1
                    return self._send(503, {"error": "busy"})
                page = int(parse_qs(urlparse(self.path).query).get("page", ["1"])[0])
                size = endpoint.page_size
                items = endpoint.pending[(page - 1) * size: page * size]
                pages = max(1, -(-len(endpoint.pending) // size))
                if endpoint.style == "next":
                    body = {"payments": items, "next": f"/pending?page={page + 1}" if page < pages else None}
                else:
                    body = {"payments": items, "page": page, "pages": pages}
                return self._send(200, body)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pending"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, payment_id: str, amount: str, reference: str = "") -> None:
        self.pending.append({"payment_id": payment_id, "amount": amount, "currency": "EUR",
                             "issued_on": "2026-03-01", "due_on": "2026-03-31", "reference": reference,
                             "payer": "Acme"})


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    ep.thread.start()
    yield ep
    ep.server.shutdown()
    ep.server.server_close()


def _pull(ws: Workspace, url: str, **kwargs: Any) -> dict[str, int]:
    with ws.connect() as con:
        source = payments.get_source(con, url)
    return payments.pull(ws.connect, ws.vault(), source, **kwargs)


def test_pull_pages_with_bearer_and_cancels_what_disappears(ws: Workspace, endpoint: Endpoint) -> None:
    for i in range(5):
        endpoint.add(f"E{i}", f"{i + 1}0.00", f"R-{i}")
    with ws.connect() as con:
        payments.save_source(con, ws.vault(), endpoint.url, "bearer", TOKEN)
    assert _pull(ws, endpoint.url) == {"imported": 5, "updated": 0, "unchanged": 0, "cancelled": 0, "fetched": 5}
    assert len(endpoint.requests) == 3  # five payments, two per page
    # E1 was paid, E3 withdrawn: both disappear from the pending list; only the open one becomes cancelled
    with ws.connect() as con:
        con.execute("UPDATE payments SET status = 'paid' WHERE payment_id = 'E1'")
    endpoint.pending = [p for p in endpoint.pending if p["payment_id"] not in ("E1", "E3")]
    result = _pull(ws, endpoint.url)
    assert result["cancelled"] == 1
    rows = _rows(ws)
    assert rows["E3"][1] == "cancelled" and rows["E1"][1] == "paid" and rows["E0"][1] == "open"
    with ws.connect() as con:
        assert con.execute("SELECT cancelled_at IS NOT NULL FROM payments WHERE payment_id = 'E3'").fetchall() == [
            (True,)]
    # it comes back: reopened, not duplicated
    endpoint.add("E3", "40.00", "R-3")
    _pull(ws, endpoint.url)
    assert _rows(ws)["E3"][1] == "open"


def test_pull_with_api_key_page_numbers_and_retries(ws: Workspace, endpoint: Endpoint) -> None:
    endpoint.expect = ("api-key", TOKEN)
    endpoint.style = "pages"
    for i in range(3):
        endpoint.add(f"K{i}", "5.00")
    endpoint.fail_next = 2  # two 503s, then it answers
    with ws.connect() as con:
        payments.save_source(con, ws.vault(), endpoint.url, "api-key", TOKEN)
    assert _pull(ws, endpoint.url, retries=3)["imported"] == 3
    assert all(r.get("Api-Key") == TOKEN for r in endpoint.requests)


def test_pull_gives_up_clearly_and_stores_nothing(ws: Workspace, endpoint: Endpoint) -> None:
    endpoint.add("X1", "5.00")
    endpoint.fail_next = 10
    with ws.connect() as con:
        payments.save_source(con, ws.vault(), endpoint.url, "bearer", TOKEN)
    with pytest.raises(payments.EndpointError, match="HTTP 503"):
        _pull(ws, endpoint.url, retries=1)
    with ws.connect() as con:
        payments.save_source(con, ws.vault(), endpoint.url, "bearer", "wrong-token")
    endpoint.fail_next = 0
    with pytest.raises(payments.EndpointError, match="refused the token") as err:
        _pull(ws, endpoint.url)
    assert "wrong-token" not in str(err.value)
    assert _rows(ws) == {}


def test_token_is_sealed_not_stored_in_clear(ws: Workspace, endpoint: Endpoint) -> None:
    with ws.connect() as con:
        payments.save_source(con, ws.vault(), endpoint.url, "bearer", TOKEN)
    assert TOKEN.encode() not in ws.db_path.read_bytes()


def test_cli_pull_import_and_list(ws: Workspace, endpoint: Endpoint, run_cli, tmp_path: Path) -> None:
    endpoint.add("C1", "12.50", "R-C1")
    first = run_cli("payments", "pull", endpoint.url, "--auth", "bearer", "--token-stdin", "--json",
                    input=TOKEN + "\n")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["imported"] == 1
    assert TOKEN not in first.stdout + first.stderr
    again = run_cli("payments", "pull", endpoint.url, "--json")  # the sealed token is reused
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] == 1
    unknown = run_cli("payments", "pull", "http://127.0.0.1:9/none")
    assert unknown.returncode != 0 and unknown.stderr.startswith("error: no payments source")
    imported = run_cli("payments", "import", str(_csv(tmp_path / "p.csv", "F1,3.00,EUR,,,R-F1,\n")), "--json")
    assert json.loads(imported.stdout)["imported"] == 1
    listed = json.loads(run_cli("payments", "list", "--json").stdout)
    assert {p["payment_id"]: p["open_amount"] for p in listed} == {"C1": "12.50", "F1": "3.00"}
    bad = run_cli("payments", "import", str(_csv(tmp_path / "bad.csv", "F2,x,EUR,,,R,\n")))
    assert bad.returncode != 0 and "line 2" in bad.stderr and bad.stderr.count("\n") == 1


# -- big files: read outside the store, applied in short chunks behind a marker ---------------------------------

BIG = 2000


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconwb.store import chunks
    monkeypatch.setattr(payments, "IN_ONE_TRANSACTION", 100)
    for name in ("FIRST_CHUNK_ROWS", "MIN_CHUNK_ROWS", "MAX_CHUNK_ROWS"):
        monkeypatch.setattr(chunks, name, 200)


def _big(path: Path, cents: int = 5) -> Path:
    return _csv(path, "".join(f"P{i},{i}.{cents:02d},EUR,2026-03-01,,R{i},Payer {i % 50}\n" for i in range(BIG)))


def _all(ws: Workspace) -> list[tuple]:
    with ws.connect() as con:
        return con.execute("SELECT payment_id, amount, currency, issued_on, reference, payer, status, source_ref"
                           " FROM payments ORDER BY payment_id").fetchall()


def test_a_big_file_applied_in_chunks_stores_what_one_transaction_stores(
        ws: Workspace, tmp_path: Path, small_chunks: None) -> None:
    from reconwb.store import db
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    first, second = _big(tmp_path / "p.csv"), _big(tmp_path / "p2.csv", cents=7)
    with whole.connect() as con:
        expected = [payments.import_file(con, first)]
        con.execute("UPDATE payments SET status = 'paid' WHERE payment_id IN ('P1', 'P2')")
        expected.append(payments.import_file(con, second))
    db.reset_hold_stats()
    got = [payments.import_into(ws, first)]
    assert db.hold_stats().opens >= BIG // 200
    with ws.connect() as con:
        con.execute("UPDATE payments SET status = 'paid' WHERE payment_id IN ('P1', 'P2')")
    got.append(payments.import_into(ws, second))  # changes wait until the last chunk, then apply together
    assert got == expected == [{"imported": BIG, "updated": 0, "unchanged": 0},
                               {"imported": 0, "updated": BIG - 2, "unchanged": 2}]
    assert [r[:-1] for r in _all(ws)] == [r[:-1] for r in _all(whole)]
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM payment_import_changes").fetchone() == (0,)
    # a repeated id is found before the store is opened for writing, and nothing is stored
    bad = _csv(tmp_path / "bad.csv", "".join(f"N{i},1.00,EUR,,,R,\n" for i in range(300)) + "N7,2.00,EUR,,,R,\n")
    with pytest.raises(InvalidInput, match=r"bad\.csv: line 302: payment_id 'N7' appears more than once"):
        payments.import_into(ws, bad)
    assert len(_all(ws)) == BIG


KILLABLE_PAYMENTS = """
from pathlib import Path
from reconwb import payments
from reconwb.workspace import Workspace
payments.IN_ONE_TRANSACTION = 100
chunks.FIRST_CHUNK_ROWS = chunks.MIN_CHUNK_ROWS = chunks.MAX_CHUNK_ROWS = 200
payments.import_into(Workspace(db_path=Path(sys.argv[1])), Path(sys.argv[2]))
"""


def test_a_payments_import_killed_mid_way_is_invisible_and_the_next_finishes_it_exactly(
        ws: Workspace, tmp_path: Path, small_chunks: None) -> None:
    from reconwb import reports
    from reconwb.matching import engine, manual, queries
    from tests.store.sharing import kill_between_chunks

    path = _big(tmp_path / "p.csv")
    kill_between_chunks(KILLABLE_PAYMENTS, str(ws.db_path), str(path), at=3)
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM payments").fetchall()[0][0] >= 600  # hidden, yet there
        assert payments.list_payments(con).is_empty()
    assert reports.payment_totals(ws).is_empty()
    assert reports.headline(ws)["payments_open"] == 0
    assert queries.open_items(ws, "payments").is_empty()
    # the rows carry their real status: only the run's marker hides them, from every reader
    assert reports.ageing(ws).filter(pl.col("item") == "payment").is_empty()
    assert engine._load(ws.connect, None)[1].is_empty()
    with ws.connect() as con:
        assert con.execute("SELECT DISTINCT status FROM payments").fetchall() == [("open",)]
        hidden = con.execute("SELECT payment_id FROM payments LIMIT 1").fetchone()[0]
        with pytest.raises(NotFound):
            manual._open_amounts(con, [hidden])

    assert payments.import_into(ws, path) == {"imported": BIG, "updated": 0, "unchanged": 0}
    whole = Workspace(db_path=tmp_path / "whole" / "reconwb.duckdb")
    with whole.connect() as con:
        payments.import_file(con, path)
    assert _all(ws) == _all(whole)
    with ws.connect() as con:
        assert sorted(con.execute("SELECT outcome FROM payment_import_runs").fetchall()) == [
            ("imported",), ("undone",)]


def test_a_big_file_in_file_mode_parses_each_distinct_amount_once_with_the_same_values_and_lines(
        tmp_path: Path) -> None:
    """File mode reads a payments file whole, converting each distinct amount text once: every payment keeps
    its own exact amount, and a bad amount or a repeated id far down the file is named at its own line."""
    amounts = ["10.00", "49.9", "1000", "0.125"]
    body = "".join(f"P{i},{amounts[i % 4]},{'BHD' if i % 4 == 3 else 'EUR'},2026-01-0{1 + i % 9},,R{i},Payer {i % 7}\n"
                   for i in range(30_000))
    frame = payments.read_file(_csv(tmp_path / "big.csv", body))
    assert frame["amount"].head(4).to_list() == [Decimal("10.00"), Decimal("49.90"), Decimal("1000.00"),
                                                 Decimal("0.125")]
    assert frame.row(29_999, named=True)["amount"] == Decimal("0.125") and frame.height == 30_000
    with pytest.raises(InvalidInput, match=r"excess\.csv: line 30002: amount 0\.125 has more decimals than EUR"):
        payments.read_file(_csv(tmp_path / "excess.csv", body + "P30000,0.125,EUR,,,R,Payer\n"))
    with pytest.raises(InvalidInput, match=r"again\.csv: line 30002: payment_id 'P17' appears more than once"):
        payments.read_file(_csv(tmp_path / "again.csv", body + "P17,1.00,EUR,,,R,Payer\n"))
