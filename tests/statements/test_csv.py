"""CSV statements: the Transactions CSV, bank presets (decimal comma, debit/credit columns), mapping files."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from reconwb.errors import InvalidInput
from reconwb.statements import StatementError, csv, parse

HEADER = "txn_id,account_id,booked_on,amount,currency,description,reference,counterparty\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def lines(statements) -> list[dict]:
    [st] = statements
    return st.table.to_dicts()


def test_transactions_csv_round_trip_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", HEADER + "B1,ACC-1,2026-03-02,1250.00,chf,Invoice 7,RF18539007547034,ACME\n"
                                              ",ACC-2,2026-03-03,-3.1,EUR,bus,,\n")
    fmt, sts = parse(path)
    assert fmt == "csv"
    rows = lines(sts)
    assert [(r["account_ref"], r["amount"], r["currency"], r["bank_txn_id"]) for r in rows] == [
        ("ACC-1", D("1250.00"), "CHF", "B1"),
        ("ACC-2", D("-3.10"), "EUR", None),
    ]
    assert rows[0]["reference"] == "RF18539007547034" and rows[0]["counterparty"] == "ACME"


def test_eu_preset_decimal_comma_and_thousands(tmp_path: Path) -> None:
    text = ("Date;Value date;Description;Reference;Counterparty;Amount;Currency\n"
            "02.03.2026;03.03.2026;Miete März;;Hausverwaltung;-1.250,50;EUR\n"
            "04.03.2026;;Gutschrift;RF18 5390 0754 7034;Kunde;+99,95;EUR\n")
    path = write(tmp_path, "eu.csv", text)
    rows = lines(parse(path, mapping=csv.preset("eu-semicolon"))[1])
    assert [r["amount"] for r in rows] == [D("-1250.50"), D("99.95")]
    assert str(rows[0]["booked_on"]) == "2026-03-02" and str(rows[0]["value_date"]) == "2026-03-03"
    assert rows[1]["value_date"] is None
    assert rows[0]["description"] == "Miete März"


def test_debit_credit_columns(tmp_path: Path) -> None:
    text = ("Date,Description,Reference,Counterparty,Debit,Credit,Currency\n"
            '05/03/2026,Card,,Shop,"1,020.00",,GBP\n'
            "06/03/2026,Salary,,Employer,,2500.10,GBP\n")
    path = write(tmp_path, "dc.csv", text)
    rows = lines(parse(path, mapping=csv.preset("debit-credit"))[1])
    assert [r["amount"] for r in rows] == [D("-1020.00"), D("2500.10")]
    assert str(rows[0]["booked_on"]) == "2026-03-05"  # day first


def test_auto_detects_a_preset_from_the_header(tmp_path: Path) -> None:
    text = ("Date,Description,Reference,Counterparty,Debit,Credit,Currency\n"
            "05/03/2026,Card,,Shop,12.00,,GBP\n")
    rows = lines(parse(write(tmp_path, "auto.csv", text))[1])
    assert rows[0]["amount"] == D("-12.00")


def test_sparkasse_preset_with_status(tmp_path: Path) -> None:
    header = ('"Auftragskonto";"Buchungstag";"Valutadatum";"Buchungstext";"Verwendungszweck";'
              '"Kundenreferenz (End-to-End)";"Beguenstigter/Zahlungspflichtiger";"Kontonummer/IBAN";"Betrag";'
              '"Waehrung";"Info"\n')
    body = ('"DE02120300000000202051";"02.03.26";"02.03.26";"GUTSCHR. UEBERWEISUNG";"RE 2026-17";"E2E-17";'
            '"Kunde GmbH";"DE89 3704 0044 0532 0130 00";"1.234,56";"EUR";"Umsatz gebucht"\n'
            '"DE02120300000000202051";"03.03.26";"03.03.26";"KARTENZAHLUNG";"Tankstelle";"";"Shell";"";"-45,10";'
            '"EUR";"Umsatz vorgemerkt"\n')
    rows = lines(parse(write(tmp_path, "spk.csv", header + body), mapping=csv.preset("sparkasse"))[1])
    assert [(r["amount"], r["status"]) for r in rows] == [(D("1234.56"), "booked"), (D("-45.10"), "pending")]
    assert rows[0]["counterparty_iban"] == "DE89370400440532013000"
    assert rows[0]["description"] == "GUTSCHR. UEBERWEISUNG RE 2026-17"
    assert rows[0]["account_ref"] == "DE02120300000000202051"


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_mapping_file_with_sign_flag_and_direction(tmp_path: Path, suffix: str) -> None:
    mapping = {"columns": {"booked_on": "Datum", "amount": "Summe", "direction": "S/H", "description": "Text"},
               "delimiter": "|", "date_format": "%Y%m%d", "decimal": ",", "currency": "CHF", "debit_marker": "S",
               "account": "CH9300762011623852957"}
    path = tmp_path / f"map{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(mapping))
    else:
        cols = ", ".join(f'"{k}" = "{v}"' for k, v in mapping["columns"].items())
        path.write_text("\n".join(f'{k} = "{v}"' for k, v in mapping.items() if k != "columns")
                        + f"\n[columns]\n{cols.replace(', ', chr(10))}\n")
    data = write(tmp_path, "bank.txt", "Datum|Text|Summe|S/H\n20260302|Rent|1200,00|S\n20260303|Refund|10,5|H\n")
    rows = lines(parse(data, "csv", mapping=csv.load_mapping(path))[1])
    assert [(r["amount"], r["currency"], r["account_ref"]) for r in rows] == [
        (D("-1200.00"), "CHF", "CH9300762011623852957"), (D("10.50"), "CHF", "CH9300762011623852957")]


def test_bad_mapping_files(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"columns": {"booked_on": "D", "amount": "A"}, "sepparator": ";"}')
    with pytest.raises(InvalidInput, match="unknown mapping keys sepparator"):
        csv.load_mapping(path)
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="m.json: mapping file is not valid json"):
        csv.load_mapping(path)
    path.write_text('{"columns": {"description": "D"}}')
    with pytest.raises(InvalidInput, match="needs `booked_on` and `amount`"):
        csv.load_mapping(path)


def test_bad_values_name_the_line(tmp_path: Path) -> None:
    good = "B{i},A,2026-03-02,1.00,EUR,x,,\n"
    text = HEADER + "".join(good.format(i=i) for i in range(40)) + "B99,A,2026-03-02,12,50,EUR,x,,\n"
    with pytest.raises(StatementError) as err:
        parse(write(tmp_path, "ragged.csv", text))
    assert str(err.value).startswith("ragged.csv:")
    text = HEADER + "".join(good.format(i=i) for i in range(40)) + "B99,A,2026-03-02,12x,EUR,x,,\n"
    with pytest.raises(StatementError, match=r"amt\.csv:42: bad amount '12x'"):
        parse(write(tmp_path, "amt.csv", text))
    text = HEADER + good.format(i=1) + "B2,A,02/03/2026,1.00,EUR,x,,\n"
    with pytest.raises(StatementError, match=r"date\.csv:3: bad booked_on '02/03/2026'"):
        parse(write(tmp_path, "date.csv", text))
    text = HEADER + "B1,A,2026-03-02,1.00,,x,,\n"
    with pytest.raises(StatementError, match=r"ccy\.csv:2: bad currency"):
        parse(write(tmp_path, "ccy.csv", text))


def test_encoding_option_and_a_wrong_one(tmp_path: Path) -> None:
    text = HEADER + "B1,A,2026-03-02,1.00,EUR,Gebühr Zürich,,\n"
    latin = write(tmp_path, "latin.csv", text, encoding="latin-1")
    rows = lines(parse(latin, encoding="latin-1")[1])
    assert rows[0]["description"] == "Gebühr Zürich"
    with pytest.raises(StatementError, match=r"latin\.csv:2: not valid ascii text"):
        parse(latin, encoding="ascii")
    with pytest.raises(StatementError, match=r"unknown encoding 'klingon'"):
        parse(latin, encoding="klingon")


GERMAN_BANK = ("Auftragskonto;Buchungstag;Valutadatum;Buchungstext;Verwendungszweck;Beguenstigter/Zahlungspflichtiger;"
               "Betrag;Waehrung\n"
               "DE44500105175407324931;02.01.25;02.01.25;Gutschrift;Rechnung 4711 Größe M;Müller & Söhne;1.234,50;EUR\n"
               "DE44500105175407324931;03.01.25;03.01.25;Lastschrift;Gebühr für Überweisung;Bäckerei Weiß;-7,10;EUR\n")
FRENCH_BANK = ("Date opération;Libellé;Montant;Devise\n"
               "02/01/2025;Virement reçu Hélène Lefèvre facture n° 12;1 250,00;EUR\n"
               "03/01/2025;Prélèvement crème brûlée & pâtisserie;-12,50;EUR\n")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-8-sig"])
@pytest.mark.parametrize(("text", "descriptions"), [
    (GERMAN_BANK, ["Gutschrift Rechnung 4711 Größe M", "Lastschrift Gebühr für Überweisung"]),
    (FRENCH_BANK, ["Virement reçu Hélène Lefèvre facture n° 12", "Prélèvement crème brûlée & pâtisserie"]),
], ids=["de", "fr"])
def test_bank_exports_in_single_byte_code_pages_or_with_a_bom_are_detected(tmp_path: Path, text: str,
                                                                           descriptions: list[str],
                                                                           encoding: str) -> None:
    fmt, sts = parse(write(tmp_path, "export.csv", text, encoding=encoding))
    rows = lines(sts)
    assert fmt == "csv"
    assert [r["description"] for r in rows] == descriptions
    assert sts[0].warnings == ([] if encoding == "utf-8-sig" else
                               ["export.csv: not UTF-8; read as cp1252 (pass --encoding if names look wrong)"])


def test_a_later_line_not_in_the_detected_encoding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    utf8 = (HEADER + "B1,A,2026-03-02,1.00,EUR,Gebühr,,\n").encode()
    path.write_bytes(utf8 + b"B2,A,2026-03-02,1.00,EUR,Geb\xfchr,,\n")
    with pytest.raises(StatementError, match=r"mixed\.csv:3: not valid utf-8 text"):
        parse(path)


def test_a_file_over_the_size_limit_is_refused_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(csv, "MAX_CSV_BYTES", 2**20)
    path = write(tmp_path, "big.csv", HEADER + "B1,A,2026-03-02,1.00,EUR,x,,\n" * 40_000)
    with pytest.raises(StatementError, match=r"^big\.csv: file is 1\.\d MB; CSV statement files over 1 MB are not"
                                             r" supported \(split it\)$"):
        parse(path)


def test_a_caller_that_stores_nothing_may_read_a_larger_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(csv, "MAX_CSV_BYTES", 2**20)
    path = write(tmp_path, "big.csv", HEADER + "B1,A,2026-03-02,1.00,EUR,x,,\n" * 40_000)
    [st] = csv.read(path, max_bytes=2**21)
    assert st.count() == 40_000
    with pytest.raises(StatementError, match=r"CSV statement files over 1 MB"):
        csv.read(path, max_bytes=2**20)


def test_empty_and_header_only(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match="empty"):
        parse(write(tmp_path, "empty.csv", ""), "csv")
    fmt, sts = parse(write(tmp_path, "header.csv", HEADER))
    assert sum(s.count() for s in sts) == 0


def test_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match=r"odd\.csv:1: a transactions file needs `booked_on` and `amount`.*"
                       r" the file has columns 'a', 'b', 'c'"):
        parse(write(tmp_path, "odd.csv", "a,b,c\n1,2,3\n"))


def test_a_big_file_parses_each_distinct_amount_once_with_the_same_values_and_lines(tmp_path: Path) -> None:
    """Past `tabular.PER_DISTINCT_MIN_ROWS` lines each distinct amount text is converted once and gathered back:
    every line keeps its own exact amount (JPY and a third decimal included), and a bad amount is still named
    at its own line, past the first occurrence of a good copy of it."""
    amounts = ["1.00", "-12.50", "1 234.5", "+7", "0.125"]
    body = "".join(f"B{i},A,2026-03-02,{amounts[i % 5]},{'KWD' if i % 5 == 4 else 'EUR'},x,,\n"
                   for i in range(25_000))
    rows = lines(parse(write(tmp_path, "big.csv", HEADER + body))[1])
    assert [r["amount"] for r in rows[:5]] == [D("1.00"), D("-12.50"), D("1234.50"), D("7.00"), D("0.125")]
    assert rows[24_999]["amount"] == D("0.125") and rows[24_998]["amount"] == D("7.00")
    late = body + "B25000,A,2026-03-02,0.125,EUR,x,,\n"  # fine in KWD above, three decimals too many in EUR
    with pytest.raises(StatementError, match=r"late\.csv:25002: bad amount '0\.125' \(more decimals"):
        parse(write(tmp_path, "late.csv", HEADER + late))
    with pytest.raises(StatementError, match=r"word\.csv:20002: bad amount '12x'"):
        parse(write(tmp_path, "word.csv", HEADER + _with_line(body, 20_000, "B20000,A,2026-03-02,12x,EUR,x,,\n")))


def _with_line(body: str, index: int, line: str) -> str:
    """`body` with its line `index` (0-based) replaced by `line`."""
    rows = body.splitlines(keepends=True)
    rows[index] = line
    return "".join(rows)
