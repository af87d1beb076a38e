"""MT940 and MT942 as banks really write them (invented data, real layouts): Dutch IBAN references on :61:,
decimal points and missing optional subfields, interim reports, single-byte code pages, exact money."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconwb.statements import StatementError, mt940, parse

# SNS/ING style: the account-owner reference is the payer's 18-character IBAN, details on the next line
DUTCH = """{1:F01SNSBNL2AXXXX0000000000}{2:O94000000000000000000000000000000000000000N}{3:}{4:
:20:0000000000
:25:NL44SNSB0917263545
:28C:81/1
:60F:C250610EUR1200,00
:61:2506110611C350,75NOVBNL02RABO0123456789
j. de vries
:86:NL02RABO0123456789 j. de vries factuur 2025-118
:61:250612D49,9NIDBNONREF
:86:Pinautomaat Utrecht
:61:250612C1,NTRF
:62F:C250612EUR1501,85
-}{5:}
"""


def test_dutch_iban_reference_and_missing_optional_subfields() -> None:
    [st] = mt940.read(DUTCH.encode(), name="sns.txt")
    assert st.iban == "NL44SNSB0917263545"
    first, card, bare = (ln.txn for ln in st.lines)
    assert first.amount == D("350.75") and first.reference == "NL02RABO0123456789"
    assert "factuur 2025-118" in first.description
    assert (str(first.value_date), str(first.booked_on)) == ("2025-06-11", "2025-06-11")
    assert card.amount == D("-49.90") and str(card.booked_on) == "2025-06-12"  # no entry date: value date
    assert bare.amount == D("1.00") and bare.reference == ""  # no reference at all
    assert st.balance_warning("sns.txt") is None  # 1200 + 350.75 - 49.90 + 1 = 1501.85


RABO = """:940:
:20:940A250107
:25:3300.12.847EUR
:28:00000/00
:60F:C250106EUR000000001000.00
:61:250107C000000000300.00NMSC170059286
:86:Spaarpot kantine
:61:250107C000000000300.00NMSCNONREF          STORTING
:86:Contante storting
:61:250107D00000000000125.NMSC1173113681      ROBECO
:62F:C250107EUR000000001475.00
"""


def test_decimal_points_and_padded_names_lose_no_line() -> None:
    """The mt-940 package read these three :61: lines as two and dropped one amount's decimals."""
    [st] = mt940.read(RABO.encode() + b"\x1a", name="rabo.sta")
    assert [ln.txn.amount for ln in st.lines] == [D("300.00"), D("300.00"), D("-125.00")]
    assert [ln.txn.reference for ln in st.lines] == ["170059286", "", "1173113681"]
    assert st.lines[2].txn.counterparty == "" and "ROBECO" in st.lines[2].txn.description
    assert st.balance_warning("rabo.sta") is None


MT942 = """:20:INTRA-0719
:25:DE12500105170648489890
:28C:27/3
:34F:EURD0,
:13D:2507191433+0200
:61:250719C1980,00NTRFNONREF//K-77
:86:166?00GUTSCHRIFT?20SVWZ+Rechnung 4471?32Muster GmbH
:61:250719D12,5NMSCNONREF
:86:Kontofuehrung
:90D:1EUR12,50
:90C:1EUR1980,00
-
"""


def test_mt942_interim_report() -> None:
    fmt, [st] = parse(_write(MT942.encode(), "intra.txt"))
    assert fmt == "mt940" and st.currency == "EUR"
    assert [ln.txn.amount for ln in st.lines] == [D("1980.00"), D("-12.50")]
    assert st.opening is None and st.closing is None and not st.warnings
    wrong = MT942.replace(":90C:1EUR1980,00", ":90C:1EUR1890,00")
    [bad] = mt940.read(wrong.encode(), name="w.txt")
    assert bad.warnings == ["w.txt:11: :90C: says 1 lines of 1890.00, the statement has 1 of 1980.00"]


def _write(data: bytes, name: str):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(data)
    return path


POLISH = """:20:WYCIAG/7
:25:/PL61109010140000071219812874
:28C:7
:60F:C250301PLN500,00
:61:2503020302C120,00NTRFNONREF
:86:Przelew od Zażółć Gęślą Jaźń, Łódź
:62F:C250302PLN620,00
-
"""


@pytest.mark.parametrize("encoding", ["cp1250", "cp852", "iso8859_2"])
def test_single_byte_code_pages_are_read_without_encoding(encoding: str) -> None:
    [st] = mt940.read(POLISH.encode(encoding), name="pl.sta")
    assert st.lines[0].txn.amount == D("120.00") and st.closing.amount == D("620.00")
    assert st.lines[0].txn.description.startswith("Przelew od ")
    assert any("not UTF-8" in w for w in st.warnings)
    [exact] = mt940.read(POLISH.encode(encoding), name="pl.sta", encoding=encoding)
    assert "Zażółć Gęślą Jaźń, Łódź" in exact.lines[0].txn.description


def test_the_error_names_the_line_even_when_its_number_appears_earlier() -> None:
    text = DUTCH.replace(":61:250612C1,NTRF", ":61:250612C1,NTRF").replace(":61:250612D49,9NIDB", ":61:251312D49,9NIDB")
    with pytest.raises(StatementError, match=r"^sns\.txt:9: :61: value date: '251312' is not a date"):
        mt940.read(text.encode(), name="sns.txt")


KWD = """:20:KW-1
:25:KW81CBKU0000000000001234560101
:28C:1/1
:60F:C250401KWD10,000
:61:250401C1,235NTRFINV-7
:61:250401D0,005NCHGNONREF
:62F:C250401KWD11,230
-
"""


def test_three_decimal_currency_kept_exactly_and_excess_refused() -> None:
    [st] = mt940.read(KWD.encode(), name="kw.sta")
    assert [ln.txn.amount for ln in st.lines] == [D("1.235"), D("-0.005")]
    assert st.balance_warning("kw.sta") is None
    with pytest.raises(StatementError, match=r"^eu\.sta:5: :61: amount: 1\.235 has more decimals than EUR"):
        mt940.read(KWD.replace("KWD", "EUR").encode(), name="eu.sta")
    with pytest.raises(StatementError, match=r"^eu\.sta:4: :60F: balance: 10\.0001 has more decimals than KWD"):
        mt940.read(KWD.replace("KWD10,000", "KWD10,0001").encode(), name="eu.sta")
