"""Everyone's CSV exports (invented data, the layouts banks and invoicing tools really write): detected,
mapped by file or --map, and refused with the columns found and the fields needed."""

from __future__ import annotations

import tomllib
from decimal import Decimal as D
from pathlib import Path

import pytest

from reconwb import mappings, payments
from reconwb.errors import InvalidInput
from reconwb.statements import StatementError, parse

EXPORTS = {
    # German online banking: preamble, semicolons, quoted, decimal comma with grouping, two-digit years
    "de": ('"Kontonummer:";"DE44 5001 0517 5407 3249 31";\n"Zeitraum:";"01.06.2025 - 30.06.2025";\n\n'
           '"Buchungstag";"Wertstellung";"Buchungstext";"Auftraggeber / Empfänger";"Verwendungszweck";'
           '"IBAN";"Betrag (EUR)";"Währung"\n'
           '"02.06.2025";"02.06.2025";"Gutschrift";"Muster GmbH";"RE-2025-118";"DE02100500000024290661";'
           '"7.640,10";"EUR"\n'
           '"03.06.2025";"03.06.2025";"Lastschrift";"Stadtwerke";"Abschlag Juni";"";"-84,00";"EUR"\n',
           [D("7640.10"), D("-84.00")], "2025-06-02", "Muster GmbH"),
    # French bank: Date opération / Libellé / Montant, day-first slashes, decimal comma
    "fr": ("Date opération;Date valeur;Libellé;Montant;Devise\n"
           "05/06/2025;06/06/2025;VIR SEPA RECU DE DUPONT SARL FACT 4471;1 250,50;EUR\n"
           "07/06/2025;07/06/2025;PRLV FREE MOBILE;-19,99;EUR\n",
           [D("1250.50"), D("-19.99")], "2025-06-05", ""),
    # Dutch (ING layout): Af Bij direction column with an unsigned amount
    "nl": ('"Datum","Naam / Omschrijving","Rekening","Tegenrekening","Code","Af Bij","Bedrag (EUR)",'
           '"Mutatiesoort","Mededelingen"\n'
           '"20250610","Jansen B.V.","NL20INGB0001234567","NL91ABNA0417164300","OV","Bij","1.234,56",'
           '"Overschrijving","Factuur 2025-0042"\n'
           '"20250611","Albert Heijn","NL20INGB0001234567","","BA","Af","23,10","Betaalautomaat","Pasvolgnr 001"\n',
           [D("1234.56"), D("-23.10")], "2025-06-10", "Jansen B.V."),
    # Spanish: Fecha / Concepto / Importe / Divisa
    "es": ("Fecha;Fecha valor;Concepto;Importe;Divisa\n"
           "12/06/2025;12/06/2025;TRANSFERENCIA DE GARCIA SL;2.000,00;EUR\n"
           "13/06/2025;13/06/2025;RECIBO LUZ;-61,35;EUR\n",
           [D("2000.00"), D("-61.35")], "2025-06-12", ""),
    # Italian: Data contabile / Causale / Importo / Divisa
    "it": ("Data contabile;Data valuta;Causale;Descrizione;Importo;Divisa\n"
           "16/06/2025;16/06/2025;BONIFICO;Rossi Srl fattura 77;980,00;EUR\n"
           "17/06/2025;17/06/2025;PAGAMENTO POS;Bar Centrale;-3,20;EUR\n",
           [D("980.00"), D("-3.20")], "2025-06-16", ""),
    # English (UK): money out and money in columns, grouping commas, month names never
    "en": ("Date,Description,Money Out,Money In,Balance,Currency\n"
           '18/06/2025,FASTER PAYMENT SMITH LTD,,"3,150.00","10,150.00",GBP\n'
           "19/06/2025,CARD PAYMENT TESCO,42.18,,\"10,107.82\",GBP\n",
           [D("3150.00"), D("-42.18")], "2025-06-18", ""),
}


@pytest.mark.parametrize("lang", sorted(EXPORTS))
def test_exports_in_six_languages_are_detected(tmp_path: Path, lang: str) -> None:
    text, amounts, first_day, counterparty = EXPORTS[lang]
    path = tmp_path / f"{lang}.csv"
    path.write_text(text, encoding="utf-8")
    fmt, [st] = parse(path)
    rows = st.table.to_dicts()
    assert fmt == "csv"
    assert [r["amount"] for r in rows] == amounts
    assert str(rows[0]["booked_on"]) == first_day
    assert rows[0]["counterparty"] == counterparty
    assert rows[0]["description"]


def test_german_export_lines_keep_their_file_line_in_errors(tmp_path: Path) -> None:
    text = EXPORTS["de"][0].replace('"-84,00"', '"-84,0O"')
    path = tmp_path / "de.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StatementError, match=r"^de\.csv:6: bad amount '-84,0O'"):
        parse(path)


def test_a_file_that_does_not_fit_says_what_it_has_and_needs(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("when;what;how much\n2025-06-01;x;1,00\n")
    with pytest.raises(StatementError) as err:
        parse(path)
    message = str(err.value)
    assert message.startswith("odd.csv:1: a transactions file needs `booked_on` and `amount` (or `debit`/`credit`)")
    assert "the file has columns 'when', 'what', 'how much'" in message and "--map" in message
    _, [st] = parse(path, overrides=mappings.options(["booked_on=when", "amount=how much", "description=what",
                                                      "currency=EUR"]))
    assert st.table["amount"].to_list() == [D("1.00")]


def test_mapping_file_and_map_options_override_detection(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("Datum|Text|Summe|S/H\n20250302|Rent|1200,00|S\n20250303|Refund|10,5|H\n")
    mapping = tmp_path / "bank.toml"
    mapping.write_text('delimiter = "|"\ncurrency = "CHF"\ndebit_marker = "S"\n[columns]\ndirection = "S/H"\n'
                       'amount = "Summe"\n')
    keys = mappings.load(mapping)
    _, [st] = parse(path, overrides=keys)
    assert st.table["amount"].to_list() == [D("-1200.00"), D("10.50")]
    assert st.table["currency"].to_list() == ["CHF", "CHF"]
    with pytest.raises(InvalidInput, match=r"--map foo=\.\.\.: unknown field"):
        mappings.options(["foo=bar"])
    with pytest.raises(InvalidInput, match=r"expected FIELD=COLUMN"):
        mappings.options(["amount"])


@pytest.mark.parametrize("kind", mappings.KINDS)
def test_the_example_mapping_is_valid_toml_for_its_kind(kind: str, tmp_path: Path) -> None:
    text = mappings.example(kind)
    data = tomllib.loads(text)
    assert data["kind"] == kind and set(data["columns"]) <= set(mappings.FIELDS[kind])
    path = tmp_path / "m.toml"
    path.write_text(text)
    assert mappings.load(path, kind)["columns"] == data["columns"]


def test_ambiguous_grouping_is_never_read_as_thousands(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("payment_id,amount,currency\nP1,10.001,EUR\n")
    with pytest.raises(InvalidInput, match=r"line 2: amount 10\.001 has more decimals than EUR allows"):
        payments.read_file(path)
    path.write_text("payment_id,amount,currency\nP1,10.001,KWD\n")
    assert payments.read_file(path)["amount"].to_list() == [D("10.001")]


INVOICES = ("invoice_id,total,currency,date,ref,customer\n"
            "INV-1001,1190.00,EUR,2025-06-01,RF18539007547034,Muster GmbH\n"
            "INV-1002,25.50,EUR,2025-06-03,INV-1002,Jane Doe\n")


def test_invoicing_export_imports_with_detection_and_map(ws, tmp_path: Path) -> None:
    path = tmp_path / "invoices.csv"
    path.write_text(INVOICES)
    frame = payments.read_file(path, mappings.options(["reference=ref"], "payments"))
    assert frame.select("payment_id", "amount", "payer", "reference").rows() == [
        ("INV-1001", D("1190.00"), "Muster GmbH", "RF18539007547034"), ("INV-1002", D("25.50"), "Jane Doe", "INV-1002")]
    assert frame["issued_on"].cast(str).to_list() == ["2025-06-01", "2025-06-03"]
    de = tmp_path / "rechnungen.csv"
    de.write_text("Rechnungsnummer;Rechnungsdatum;Fällig am;Kunde;Betrag;Währung\n"
                  "R-77;01.06.2025;15.06.2025;Beispiel AG;7.640,10;EUR\n", encoding="utf-8")
    with ws.connect() as con:
        assert payments.import_file(con, de) == {"imported": 1, "updated": 0, "unchanged": 0}
        row = con.execute("SELECT amount, due_on, payer FROM payments WHERE payment_id = 'R-77'").fetchall()
    assert str(row[0][1]) == "2025-06-15" and row[0][0] == D("7640.10") and row[0][2] == "Beispiel AG"


def test_payments_import_streams_in_batches_and_refuses_a_late_duplicate(ws, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    rows = "".join(f"P{i},{i}.25,EUR,2025-06-01,,R{i},Payer {i}\n" for i in range(1, 2501))
    path.write_text("payment_id,amount,currency,issued_on,due_on,reference,payer\n" + rows + "P7,1.00,EUR,,,X,Y\n")
    frames = list(payments.batches(path, rows=200))  # blocks of about 200 rows' worth of bytes
    assert len(frames) > 5 and sum(f.height for f in frames) == 2501
    lines = [n for f in frames for n in f["_line"].to_list()]
    assert lines == list(range(2, 2503))  # every payment keeps its file line across blocks
    with ws.connect() as con, pytest.raises(InvalidInput, match=r"many\.csv: line 2502: payment_id 'P7' appears"):
        payments.import_file(con, path)
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM payments").fetchall() == [(0,)]


def test_cli_payments_mapping_and_reconcile_with_a_bank_export(run_cli, tmp_path: Path) -> None:
    example = run_cli("payments", "mapping", "--example")
    assert example.returncode == 0 and tomllib.loads(example.stdout)["kind"] == "payments"
    assert tomllib.loads(run_cli("statements", "mapping", "--example").stdout)["kind"] == "transactions"
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(INVOICES)
    done = run_cli("payments", "import", str(invoices), "--map", "reference=ref", "--json")
    assert done.returncode == 0, done.stderr
    bank = tmp_path / "bank_export.csv"
    bank.write_text(EXPORTS["de"][0].replace("RE-2025-118", "INV-1002").replace("7.640,10", "25,50"),
                    encoding="utf-8")
    out = tmp_path / "matches.csv"
    done = run_cli("reconcile", "--transactions", str(bank), "--payments", str(invoices), "--out", str(out),
                   "--json")
    assert done.returncode == 0, done.stderr
    assert "INV-1002" in out.read_text()
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Date,Description,Amount,Currency\n2025-06-01,a,1.00,EUR\n2025-06-02,b,c,2.00,EUR\n")
    bad = run_cli("reconcile", "--transactions", str(ragged), "--payments", str(invoices), "--out", str(out))
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"error: {ragged}:3: 5 fields where the header has 4 (is the delimiter ','? is a quote left open?)"]
