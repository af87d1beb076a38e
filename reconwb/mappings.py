"""Column mappings: how to read anyone's CSV export as transactions or as payments, one mechanism for both.

Banks and invoicing tools write their own headers, in their own language, with their own delimiter, decimal
comma and date order. A mapping says which column is which field and how values are written. It comes from,
in order, what the file shows (auto-detection: the delimiter, the header row after any preamble, the usual
column names of English, German, French, Dutch, Spanish and Italian exports, a decimal comma, the date
format), then a mapping file (TOML or JSON), then `--map FIELD=COLUMN` options; a later source wins per key.
Every reader of tabular input (statement CSV import, `payments import`, `reconcile` in file mode) goes through
`resolve`, so a file that does not fit gets the same answer everywhere: the columns it has and what is missing.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
import unicodedata
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import polars as pl

from reconwb import money
from reconwb.errors import InvalidInput

KINDS = ("transactions", "payments")
TRANSACTION_FIELDS = ("txn_id", "account_id", "booked_on", "value_date", "amount", "debit", "credit", "direction",
                      "currency", "description", "reference", "counterparty", "counterparty_iban", "status")
PAYMENT_FIELDS = ("payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer", "payer_iban",
                  "account_ref")
FIELDS = {"transactions": TRANSACTION_FIELDS, "payments": PAYMENT_FIELDS}
# what a file must provide, per kind: each entry is satisfied by any one of its fields
NEEDS = {
    "transactions": (("booked_on",), ("amount", "debit", "credit"), ("currency",)),
    "payments": (("payment_id",), ("amount",), ("currency",)),
}
DATE_FIELDS = {"booked_on", "value_date", "issued_on", "due_on"}
MONEY_FIELDS = {"amount", "debit", "credit"}
SETTINGS = ("delimiter", "date_format", "decimal", "thousands", "currency", "account", "negate", "debit_marker",
            "skip_rows", "encoding", "status_map")
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y",
                "%m/%d/%y", "%Y%m%d", "%d-%m-%y", "%Y.%m.%d")
DELIMITERS = (",", ";", "\t", "|")
DEBIT_MARKERS = ("d", "dbit", "dr", "debit", "s", "soll", "af", "-", "debe", "dare", "debito")
SNIFF_BYTES = 64 * 1024
PREAMBLE_LINES = 30  # bank exports put account details above the header; look this far for it

_CURRENCY_NAMES = ("currency", "ccy", "currencycode", "wahrung", "devise", "monnaie", "munt", "munteenheid", "moneda",
                   "divisa")
# usual column names, written as `key` writes them (lower case, no accents or punctuation, ae/oe/ue folded)
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "transactions": {
        "txn_id": ("txnid", "transactionid", "bankreference", "banktxnid", "fitid", "buchungsid", "transactieid"),
        "account_id": ("accountid", "account", "accountnumber", "auftragskonto", "konto", "kontonummer", "rekening",
                       "rekeningnummer", "compte", "numerodecompte", "cuenta", "conto", "ownaccount"),
        "booked_on": ("bookedon", "date", "bookingdate", "bookeddate", "transactiondate", "postingdate",
                      "posteddate", "completeddate", "buchungstag", "buchungsdatum", "datum", "dateoperation",
                      "datedoperation", "datecomptable", "boekdatum", "transactiedatum", "fecha", "fechaoperacion",
                      "fechacontable", "data", "dataoperazione", "datacontabile"),
        "value_date": ("valudate", "valutadatum", "wertstellung", "datevaleur", "datedevaleur", "rentedatum",
                       "valutadate", "fechavalor", "datavaluta"),
        "amount": ("amount", "transactionamount", "betrag", "umsatz", "montant", "bedrag", "importe", "importo",
                   "amountineur", "betragineur", "montanteneur", "bedragineur", "betrageur", "montanteur",
                   "bedrageur", "importeeur", "importoeur", "sum", "summe"),
        "debit": ("debit", "debitamount", "moneyout", "paidout", "withdrawal", "withdrawals", "soll", "belastung",
                  "montantdebit", "debet", "cargo", "cargos", "addebito", "addebiti", "uscite"),
        "credit": ("credit", "creditamount", "moneyin", "paidin", "deposit", "deposits", "haben", "montantcredit",
                   "abono", "abonos", "accredito", "accrediti", "entrate"),
        "direction": ("afbij", "debitcredit", "creditdebit", "sollhaben", "dc", "cd", "sh", "cdtdbtind",
                      "direction", "type"),
        "currency": _CURRENCY_NAMES,
        "description": ("description", "details", "memo", "narrative", "transactiondetails", "purpose",
                        "buchungstext", "verwendungszweck", "libelle", "libelleoperation", "detail", "omschrijving",
                        "mededelingen", "concepto", "descripcion", "causale", "descrizione"),
        "reference": ("reference", "ref", "paymentreference", "kundenreferenz", "kundenreferenzendtoend",
                      "endtoendreference", "endtoendid", "referenz", "referentie", "betalingskenmerk", "kenmerk",
                      "referencia", "riferimento"),
        "counterparty": ("counterparty", "payee", "payer", "name", "beneficiary", "counterpartyname",
                         "begunstigterzahlungspflichtiger", "auftraggeberempfanger", "empfanger", "auftraggeber",
                         "zahlungsempfanger", "zahlungspflichtiger", "beneficiaire", "tiers", "contrepartie",
                         "naamtegenpartij", "tegenpartij", "naam", "naamomschrijving", "ordenante", "beneficiario",
                         "contraparte", "controparte"),
        "counterparty_iban": ("counterpartyiban", "iban", "kontonummeriban", "ibanauftraggeberempfanger",
                              "tegenrekening", "tegenrekeningiban", "ibancontrepartie", "comptecontrepartie",
                              "ibanbeneficiario", "ibancontroparte", "ibanbegunstigterzahlungspflichtiger"),
        "status": ("status", "info", "statut", "estado", "stato"),
    },
    "payments": {
        "payment_id": ("paymentid", "invoiceid", "invoice", "invoicenumber", "invoiceno", "invoicenr", "id",
                       "rechnungsnummer", "rechnungsnr", "rechnung", "belegnummer", "facture", "numerofacture",
                       "nfacture", "factuurnummer", "factuur", "numerofactura", "factura", "numerofattura",
                       "fattura", "documentnumber"),
        "amount": ("amount", "total", "totalamount", "amountdu", "grossamount", "betrag", "bruttobetrag",
                   "gesamtbetrag", "rechnungsbetrag", "summe", "montant", "montantttc", "totalttc", "bedrag",
                   "totaalbedrag", "importe", "importetotal", "importo", "totale"),
        "currency": _CURRENCY_NAMES,
        "issued_on": ("issuedon", "issudate", "invoicedate", "date", "issued", "rechnungsdatum", "datum",
                      "belegdatum", "datefacture", "datedefacture", "factuurdatum", "fechafactura", "fechaemision",
                      "fecha", "datafattura", "dataemissione", "data"),
        "due_on": ("dueon", "dudate", "du", "paymentdu", "faelligkeit", "falligkeit", "falligam", "falligkeitsdatum",
                   "dateecheance", "echeance", "vervaldatum", "fechavencimiento", "vencimiento", "scadenza",
                   "datascadenza"),
        "reference": ("reference", "ref", "paymentreference", "referenz", "zahlungsreferenz", "verwendungszweck",
                      "betalingskenmerk", "kenmerk", "referentie", "referencia", "riferimento", "causale"),
        "payer": ("payer", "customer", "client", "customername", "debtor", "kunde", "kundenname", "zahler",
                  "schuldner", "nomclient", "debiteur", "klant", "klantnaam", "cliente", "deudor", "pagador"),
        "payer_iban": ("payeriban", "customeriban", "iban", "kundeiban", "ibanclient", "ibanklant"),
        "account_ref": ("accountref", "account", "bankaccount", "konto", "compte", "rekening", "cuenta", "conto"),
    },
}


def key(header: str) -> str:
    """A header as the alias table writes it: `Auftraggeber/Empfänger` and `AUFTRAGGEBER_EMPFAENGER` agree."""
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]", "", text)
    return text.replace("ae", "a").replace("oe", "o").replace("ue", "u")


class MappingError(InvalidInput):
    """A mapping that cannot be used, or a file the mapping does not fit; the message names file and line."""


@dataclass(frozen=True)
class Mapping:
    """How to read one export. `columns` maps a field to a header name (or several, joined with spaces)."""

    columns: dict[str, str | list[str]] = field(default_factory=dict)
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    thousands: str = ""
    currency: str | None = None  # when the file has no currency column
    account: str | None = None  # when the file has no account column
    negate: bool = False  # the bank writes money out as positive
    debit_marker: str | None = None  # value of the `direction` column that means money out (e.g. "S", "DBIT")
    skip_rows: int = 0  # lines above the header
    encoding: str = "utf8"
    status_map: dict[str, str] = field(default_factory=dict)  # e.g. {"vorgemerkt": "pending"}
    kind: str = "transactions"

    @classmethod
    def from_dict(cls, data: MappingType[str, Any], *, origin: str, kind: str = "transactions") -> Mapping:
        """A complete mapping (presets, mapping files used on their own)."""
        _check_keys(data, origin, kind)
        mapping = cls(**{**dict(data), "kind": data.get("kind", kind)})
        missing = _unmet(mapping)
        if missing:
            raise MappingError(f"{origin}: a {kind} mapping needs {_needs_text(missing)} columns")
        return mapping

    def fields_missing(self) -> list[tuple[str, ...]]:
        return _unmet(self)


def _unmet(mapping: Mapping) -> list[tuple[str, ...]]:
    """What the mapping lacks; a `currency` setting stands for a currency column."""
    given = set(mapping.columns) | ({"currency"} if mapping.currency else set())
    return [need for need in NEEDS[mapping.kind] if not set(need) & given]


def _needs_text(needs: Sequence[tuple[str, ...]]) -> str:
    return " and ".join(f"`{n[0]}`" + (f" (or {'/'.join(f'`{x}`' for x in n[1:])})" if len(n) > 1 else "")
                        for n in needs)


def _check_keys(data: MappingType[str, Any], origin: str, kind: str) -> None:
    known = {f.name for f in fields(Mapping)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MappingError(f"{origin}: unknown mapping keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if data.get("kind", kind) not in KINDS:
        raise MappingError(f"{origin}: kind must be one of {', '.join(KINDS)}")
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        raise MappingError(f"{origin}: `columns` must be a table: field -> CSV header")
    allowed = FIELDS[data.get("kind", kind)]
    bad = sorted(set(columns) - set(allowed))
    if bad:
        raise MappingError(f"{origin}: unknown {kind} fields {', '.join(bad)} (known: {', '.join(allowed)})")


def load(path: Path, kind: str = "transactions") -> dict[str, Any]:
    """The keys a mapping file sets (TOML, or JSON for older files), checked; combine with `resolve`."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() != ".json" else json.loads(text)
    except (OSError, UnicodeError) as err:
        raise MappingError(f"{path.name}: cannot read mapping file: {err}") from None
    except (ValueError, tomllib.TOMLDecodeError) as err:
        fmt = "json" if path.suffix.lower() == ".json" else "TOML"
        raise MappingError(f"{path.name}: mapping file is not valid {fmt}: {err}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{path.name}: a mapping file holds one table")
    _check_keys(data, path.name, kind)
    return data


def options(values: Sequence[str], kind: str = "transactions") -> dict[str, Any]:
    """`--map FIELD=COLUMN` (and `--map SETTING=VALUE`, e.g. decimal=,) as mapping keys."""
    data: dict[str, Any] = {"columns": {}}
    for value in values:
        name, sep, column = value.partition("=")
        name = name.strip()
        if not sep or not name:
            raise MappingError(f"--map {value!r}: expected FIELD=COLUMN, e.g. --map booked_on=Buchungstag")
        if name in FIELDS[kind]:
            data["columns"][name] = column
        elif name in ("delimiter", "date_format", "decimal", "thousands", "currency", "account", "debit_marker",
                      "encoding"):
            data[name] = "\t" if column == "\\t" else column
        elif name in ("negate",):
            data[name] = column.strip().lower() in ("1", "true", "yes")
        elif name == "skip_rows":
            data[name] = int(column) if column.strip().isdigit() else -1
        else:
            raise MappingError(f"--map {name}=...: unknown field; {kind} fields are {', '.join(FIELDS[kind])}")
    return data


def resolve(head: bytes, name: str, kind: str, overrides: MappingType[str, Any] | None = None) -> Mapping:
    """The mapping for a file whose first bytes are `head`: detected, then `overrides` on top; refused with
    what the file has and what it needs when the result cannot work."""
    overrides = dict(overrides or {})
    text = _head_text(head, overrides.get("encoding"))
    delimiter = overrides.get("delimiter") or _sniff_delimiter(text)
    skip = overrides.get("skip_rows")
    rows = _rows(text, delimiter)
    if skip is None:
        skip = _header_row(rows, kind)
    if not isinstance(skip, int) or skip < 0:
        raise MappingError(f"{name}: skip_rows must be a whole number of lines")
    header = rows[skip] if skip < len(rows) else []
    samples = rows[skip + 1:skip + 200]
    detected = detect(header, samples, kind, delimiter, overrides.get("columns", {}))
    columns = {**detected.columns, **overrides.get("columns", {})}
    settings = {k: v for k, v in overrides.items() if k not in ("columns", "kind")}
    code = columns.get("currency")
    if isinstance(code, str) and code not in header and re.fullmatch(r"[A-Z]{3}", code.strip()):
        settings["currency"] = columns.pop("currency").strip()  # `--map currency=EUR`: the code, not a column
    mapping = replace(detected, **{**settings, "columns": columns, "skip_rows": skip, "delimiter": delimiter})
    if "decimal" in overrides and "thousands" not in overrides and mapping.thousands == mapping.decimal:
        mapping = replace(mapping, thousands="")
    absent = [c for spec in mapping.columns.values() for c in ([spec] if isinstance(spec, str) else spec)
              if c not in header]
    missing = mapping.fields_missing()
    if absent or missing:
        raise MappingError(does_not_fit(name, kind, header, missing, absent, skip + 1))
    return mapping


def does_not_fit(name: str, kind: str, header: Sequence[str], missing: Sequence[tuple[str, ...]],
                 absent: Sequence[str], line: int) -> str:
    found = ", ".join(repr(h) for h in header[:20]) or "none"
    parts = []
    if absent:
        parts.append(f"no column {', '.join(repr(a) for a in absent)}")
    if missing:
        parts.append(f"a {kind} file needs {_needs_text(missing)}")
    command = "statements" if kind == "transactions" else "payments"
    return (f"{name}:{line}: {'; '.join(parts)}; the file has columns {found}. Map them with --map FIELD=COLUMN"
            f" or a mapping file (`reconwb {command} mapping --example`)")


def detect(header: Sequence[str], samples: Sequence[Sequence[str]], kind: str, delimiter: str,
           given: MappingType[str, str | list[str]] | None = None) -> Mapping:
    """Fields from header names (`given` ones as given), and how values are written from a sample of rows."""
    columns: dict[str, str | list[str]] = dict(given or {})
    aliases = _ALIASES[kind]
    taken: set[str] = {c for spec in columns.values() for c in ([spec] if isinstance(spec, str) else spec)}
    exact = {h: h for h in header if h in FIELDS[kind] and h not in taken}  # our own formats: fields as named
    for name in FIELDS[kind]:
        if name in exact and name not in columns:
            columns[name] = name
            taken.add(name)
    for name in FIELDS[kind]:
        if name in columns:
            continue
        hits = [h for h in header if h not in taken and key(h) in aliases.get(name, ())]
        if name == "description" and len(hits) > 1:
            columns[name] = hits  # Buchungstext + Verwendungszweck, Omschrijving + Mededelingen
        elif hits:
            columns[name] = hits[0]
        taken.update(hits if name == "description" else hits[:1])
    if {"debit", "credit"} & set(given or {}):  # the user's debit/credit columns win over a guessed amount
        columns.pop("amount", None) if "amount" not in (given or {}) else None
    elif "amount" in columns:  # one signed column wins over debit/credit guesses
        columns.pop("debit", None)
        columns.pop("credit", None)
    values = {h: [row[i] for row in samples if i < len(row) and row[i].strip()] for i, h in enumerate(header)}
    money_columns = [columns[f] for f in MONEY_FIELDS if isinstance(columns.get(f), str)]
    decimal, thousands = _number_style([v for c in money_columns for v in values.get(c, [])], delimiter)
    date_columns = [columns[f] for f in DATE_FIELDS if isinstance(columns.get(f), str)]
    date_format = _date_format([v for c in date_columns for v in values.get(c, [])])
    currency = None
    if "currency" not in columns:  # `Bedrag (EUR)`, `Amount in GBP`: the amount's header names the currency
        named = " ".join(c for f in sorted(MONEY_FIELDS) for c in ([columns[f]] if isinstance(columns.get(f), str)
                                                                    else []))
        found = [c for c in re.findall(r"\b([A-Z]{3})\b", named) if c in money.known_codes()]
        currency = found[0] if found else None
    debit_marker = None
    if isinstance(columns.get("direction"), str):
        seen = {v.strip().lower() for v in values.get(columns["direction"], [])}
        debit_marker = next((m for m in DEBIT_MARKERS if m in seen), None)
        if debit_marker is None:
            columns.pop("direction")
    return Mapping(columns=columns, delimiter=delimiter, date_format=date_format, decimal=decimal,
                   thousands=thousands, debit_marker=debit_marker, currency=currency, kind=kind)


def _head_text(head: bytes, encoding: str | None) -> str:
    head = head.removeprefix(b"\xef\xbb\xbf")
    codec = (encoding or "utf-8").replace("utf8", "utf-8")
    try:
        return head.decode(codec, errors="ignore")
    except LookupError:
        return head.decode("utf-8", errors="ignore")


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most lines into the same number (>1) of fields."""
    lines = [ln for ln in text.splitlines()[:PREAMBLE_LINES + 20] if ln.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        common = max(set(counts), key=counts.count) if counts else 1
        score = (counts.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _rows(text: str, delimiter: str) -> list[list[str]]:
    lines = text.splitlines()[:PREAMBLE_LINES + 200]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the head may end inside a line
    return [[c.strip() for c in row] for row in csv.reader(lines, delimiter=delimiter)]


def _header_row(rows: Sequence[Sequence[str]], kind: str) -> int:
    """The first row that names at least two known fields (a preamble of account details or a title comes
    before it), else the first row as wide as most rows."""
    known = {a for names in _ALIASES[kind].values() for a in names} | set(FIELDS[kind])
    for index, row in enumerate(rows[:PREAMBLE_LINES]):
        if sum(1 for c in row if key(c) in known or c in FIELDS[kind]) >= 2:
            return index
    widths = [len(row) for row in rows if len(row) > 1]
    if not widths:
        return 0
    table = max(set(widths), key=widths.count)  # else the first row as wide as the table below it
    return next(i for i, row in enumerate(rows) if len(row) == table)


def _number_style(values: Sequence[str], delimiter: str) -> tuple[str, str]:
    """Decimal and thousands separators from sample amounts (`-7.640,10`, `1,020.00`, `12,5`). Only what a
    sample proves counts: `10.001` alone is ten and a thousandth (refused later if its currency has two
    decimals), never silently ten thousand and one."""
    cleaned = [re.sub(r"[\s\u00a0'+\-]|[^\d.,]+$|^[^\d.,]+", "", v) for v in values]
    continental = any(re.fullmatch(r"\d+,\d{1,2}|\d{1,3}(\.\d{3})+,\d*|\d{1,3}(\.\d{3}){2,}|\d+,\d{4,}", v)
                      for v in cleaned)
    # `1.05` is a decimal point as surely as `1,05` is a decimal comma: a file with both is not guessed at (its
    # odd values are refused at their line, never read a hundred times too large)
    english = any(re.fullmatch(r"\d{1,3}(,\d{3})+\.\d*|\d{1,3}(,\d{3}){2,}|\d+\.\d{1,2}", v) for v in cleaned)
    if continental != english:
        return (",", ".") if continental else (".", ",")
    if any(re.fullmatch(r"\d+,\d{3}", v) for v in cleaned):  # `1,500`: the file's delimiter decides
        return (",", ".") if delimiter != "," else (".", ",")
    return ".", ""


def _date_format(values: Sequence[str]) -> str:
    """The first usual format every sample date parses with (day first before month first)."""
    sample = pl.Series([v.strip() for v in values[:500]], dtype=pl.String)
    if sample.is_empty():
        return DATE_FORMATS[0]
    for fmt in DATE_FORMATS:
        parsed = sample.str.strptime(pl.Date, fmt, strict=False)
        if parsed.null_count() == 0:
            return fmt
    return DATE_FORMATS[0]


def money_text(expr: pl.Expr, mapping: Mapping) -> pl.Expr:
    """Amount text as a plain decimal (`-1.250,50` -> `-1250.50`), null when empty; exactness is checked later."""
    text = expr.str.replace_all(r"[\s\u00a0']", "")
    if mapping.thousands:
        text = text.str.replace_all(mapping.thousands, "", literal=True)
    if mapping.decimal != ".":
        text = text.str.replace_all(mapping.decimal, ".", literal=True)
    text = text.str.replace(r"^\+", "").str.replace(r"^(-?)\.", "${1}0.").str.replace(r"\.$", "")
    return pl.when(text == "").then(None).otherwise(text)


def date_expr(expr: pl.Expr, mapping: Mapping) -> pl.Expr:
    return pl.when(expr == "").then(None).otherwise(expr).str.strptime(pl.Date, mapping.date_format, strict=False)


def example(kind: str) -> str:
    """A commented mapping file for `kind`, for `reconwb statements|payments mapping --example`."""
    if kind == "payments":
        columns = ('payment_id = "Rechnungsnummer"   # required: the invoice\'s id\n'
                   'amount = "Betrag"                 # required: what is owed\n'
                   'currency = "Währung"              # or set `currency = "EUR"` above\n'
                   'issued_on = "Rechnungsdatum"\n'
                   'due_on = "Fällig am"\n'
                   'reference = "Verwendungszweck"    # what the payer should quote\n'
                   'payer = "Kunde"\n'
                   '# payer_iban = "IBAN"\n'
                   '# account_ref = "Konto"           # the account it should be paid into\n')
        title = "payments (invoices) export"
    else:
        columns = ('booked_on = "Buchungstag"        # required\n'
                   'amount = "Betrag"                 # required, signed; or debit = "Soll" and credit = "Haben"\n'
                   '# direction = "S/H"               # a column saying debit or credit; see debit_marker\n'
                   'currency = "Währung"              # or set `currency = "EUR"` above\n'
                   'value_date = "Valuta"\n'
                   'description = ["Buchungstext", "Verwendungszweck"]   # several columns are joined\n'
                   'reference = "Kundenreferenz"\n'
                   'counterparty = "Auftraggeber/Empfänger"\n'
                   'counterparty_iban = "IBAN"\n'
                   '# account_id = "Auftragskonto"    # or set `account = "DE..."` above\n'
                   '# txn_id = "Buchungs-ID"          # the bank\'s own id, when the export has one\n'
                   '# status = "Status"               # booked or pending; see status_map\n')
        title = "bank statement export"
    return f"""# reconwb mapping for a {title} (TOML). Anything left out is detected from the file.
# Use it with --mapping THIS_FILE; single keys can be given as --map FIELD=COLUMN instead.
kind = "{kind}"
delimiter = ";"              # "," ";" "\\t" "|"
decimal = ","                # decimal separator of amounts
thousands = "."              # grouping separator, "" for none
date_format = "%d.%m.%Y"     # strftime codes: %Y-%m-%d, %d/%m/%Y, %m/%d/%Y, %d.%m.%y ...
# currency = "EUR"           # when the file has no currency column
# skip_rows = 4              # lines above the header row (detected when left out)
# encoding = "cp1252"        # detected when not given (UTF-8, cp1252, latin-1, cp1250, ...)
""" + ("""# negate = false             # true when the bank writes money out as positive amounts
# debit_marker = "S"         # the direction column's value that means money out
# [status_map]               # status column values -> booked | pending
# "Umsatz vorgemerkt" = "pending"
""" if kind == "transactions" else "") + f"""
[columns]                    # field = "header as in the file"
{columns}"""
