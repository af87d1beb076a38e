"""Random and mutated input to every reader: the only failure a user may see is the reader's StatementError."""

from __future__ import annotations

import os
import re
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwb import mappings, money
from reconwb.statements import StatementError, camt, csv, detect, mt940, ofx
from tests.statements.conftest import DATA, FIXTURES
from tests.statements.test_camt import document
from tests.statements.test_camt_versions import BATCH_V02
from tests.statements.test_mt940_lenient import DUTCH, KWD, MT942, RABO
from tests.statements.test_ofx_lenient import QFX_CARD, _xml_over_sgml
from tests.test_mappings import EXPORTS

SEEDS = {
    "mt940": [(FIXTURES / "mt940" / "jejik" / n).read_bytes() for n in ("abnamro.sta", "ing.sta", "generic.sta")]
    + [(FIXTURES / "mt940" / "betterplace" / "sepa_mt9401.sta").read_bytes()[:4000]]
    + [t.encode("cp1250") for t in (DUTCH, RABO, MT942, KWD)],
    "camt": [(FIXTURES / "camt" / n).read_bytes() for n in ("camt053_business_sample.xml",
                                                            "camt054_batch_booking.xml")]
    + [document(BATCH_V02, version=v) for v in ("01", "02", "14")],
    "ofx": [(DATA / n).read_bytes() for n in ("checking_v102.ofx", "card_v220.qfx")]
    + [_xml_over_sgml(), QFX_CARD.encode("cp1252")],
    "csv": [
        b"txn_id,account_id,booked_on,amount,currency,description,reference,counterparty\n"
        b"B1,A,2026-03-02,12.50,EUR,coffee,,Cafe\n,A,2026-03-03,-3.10,EUR,bus,RF18539007547034,\n",
        b"Date;Value date;Description;Reference;Counterparty;Amount;Currency\n"
        b"02.03.2026;03.03.2026;Miete;;Haus;-1.250,50;EUR\n",
        *(text.encode() for text, *_ in EXPORTS.values()),
    ],
}
READERS = {
    "mt940": lambda data: mt940.read(data, name="fuzz.sta"),
    "camt": lambda data: camt.read(data, name="fuzz.xml"),
    "ofx": lambda data: ofx.read(data, name="fuzz.ofx"),
    "csv": lambda data: csv.read(data, name="fuzz.csv"),
    "detect": lambda data: detect.detect_bytes(data, "fuzz"),
}
# FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite fast
FAST = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw, kind: str) -> bytes:
    """A real file cut, with bytes flipped, inserted or deleted, or lines shuffled."""
    data = bytearray(draw(st.sampled_from(SEEDS[kind])))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup_line"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
                [b"<", b">", b"</Ntry>", b"<Amt>", b":61:", b":60F:", b"\n:25:", b"&x;", b"<!DOCTYPE a>", b"\xff",
                 b";", b",", b'"', b"\r\n", b"<STMTTRN>", b"</OFX>"]))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup_line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def _only_statement_errors(kind: str, data: bytes) -> None:
    try:
        READERS[kind](data)
    except StatementError as err:
        assert str(err).strip() and "\n" not in str(err).strip()  # one line, something to say
        if kind != "detect":
            assert re.match(r"fuzz\.\w+:\d+: ", str(err)), str(err)  # every error names the file and the line


@FAST
@given(data=st.binary(max_size=400), kind=st.sampled_from(sorted(READERS)))
def test_random_bytes(data: bytes, kind: str) -> None:
    _only_statement_errors(kind, data)


@FAST
@given(data=st.text(alphabet=":0123456789CDFMNRT,.-/\n ?<>ABEUZ", max_size=300), kind=st.sampled_from(["mt940",
                                                                                                     "ofx", "csv"]))
def test_random_text_in_the_formats_alphabet(data: str, kind: str) -> None:
    _only_statement_errors(kind, data.encode())


@FAST
@given(data=mutated("mt940"))
def test_mutated_mt940(data: bytes) -> None:
    _only_statement_errors("mt940", data)


@FAST
@given(data=mutated("camt"))
def test_mutated_camt(data: bytes) -> None:
    _only_statement_errors("camt", data)


@FAST
@given(data=mutated("ofx"))
def test_mutated_ofx(data: bytes) -> None:
    _only_statement_errors("ofx", data)


@FAST
@given(data=mutated("csv"))
def test_mutated_csv(data: bytes) -> None:
    _only_statement_errors("csv", data)


@FAST
@given(data=mutated("csv"), kind=st.sampled_from(mappings.KINDS))
def test_mapping_detection_never_fails_unexpectedly(data: bytes, kind: str) -> None:
    """Detection on any head gives a mapping or the one error that says what the file has and needs."""
    try:
        mapping = mappings.resolve(data, "fuzz.csv", kind)
    except mappings.MappingError as err:
        assert str(err).startswith("fuzz.csv:") and "the file has columns" in str(err)
    else:
        assert not mapping.fields_missing()


@FAST
@given(value=st.decimals(allow_nan=False, allow_infinity=False,
                         min_value=Decimal("-1e14"), max_value=Decimal("1e14")),
       currency=st.sampled_from(["EUR", "JPY", "KWD", "USD", "XXX", "ABC", "CLF", "XAU"]))
def test_money_is_kept_exactly_or_refused(value: Decimal, currency: str) -> None:
    """The value a reader keeps is the value the file says, never a rounded one."""
    try:
        kept = money.exact(money.parse(format(value, "f")), currency)
    except money.MoneyError as err:
        assert "more decimals" in str(err) or "not a number" in str(err) or "out of range" in str(err)
        assert value != value.quantize(Decimal(1).scaleb(-money.exponent(currency)))
    else:
        assert kept == value
        assert -kept.as_tuple().exponent == money.exponent(currency)
        assert Decimal(money.text(kept)) == kept
