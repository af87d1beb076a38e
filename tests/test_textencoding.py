"""Encodings found, not asked for: bank text in single-byte code pages and UTF-8 (with or without a BOM), read
back exactly, wherever its first accented line is; bytes that do not decode are named at their line."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwb import textencoding
from reconwb.textencoding import DecodeFailure, Utf8Reader

FAST = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
# what bank and invoice lines say in German, French, Spanish, Italian, Dutch, Portuguese
WORDS = ("Überweisung", "Gebühr", "Müller", "Straße", "Größe", "Lastschrift", "Gutschrift", "Bäckerei", "Zürich",
         "Prélèvement", "reçu", "Hélène", "Lefèvre", "Crème", "brûlée", "à", "échéance", "Société", "Noël",
         "Señor", "Añez", "compañía", "recibo", "Müßig", "città", "però", "Perú", "São", "João", "coração",
         "Kunde", "facture", "Rechnung", "Miete", "invoice", "1.234,50", "12,00", "€", "EUR", "n°")
LINES = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join), min_size=1, max_size=30)


def _decoded(data: bytes, encoding: str) -> str:
    return data.decode(encoding).removeprefix("\ufeff")


@FAST
@given(lines=LINES, encoding=st.sampled_from(["cp1252", "utf-8", "utf-8-sig", "latin-1"]),
       ascii_before=st.integers(0, 3))
def test_text_in_any_western_encoding_reads_back_exactly(lines: list[str], encoding: str,
                                                         ascii_before: int) -> None:
    text = "Datum;Betrag;Text\n" * ascii_before + "\n".join(lines) + "\n"
    if encoding == "latin-1":
        text = text.replace("€", "EUR")  # not in Latin-1
    data = text.encode(encoding)
    found = textencoding.detect(data)
    assert _decoded(data, found) == text
    assert textencoding.is_utf8(found) == (encoding.startswith("utf") or text.isascii())


def test_central_european_text_keeps_its_code_page() -> None:
    text = "Zażółć gęślą jaźń; Łódź; Kraków; Wrocław; Gdańsk; Příliš žluťoučký kůň\n" * 3
    for encoding in ("cp1250", "iso8859_2", "cp852"):
        assert _decoded(text.encode(encoding), textencoding.detect(text.encode(encoding))) == text


def test_an_accented_line_far_into_a_file_is_found(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_bytes(b"a;b\n" + b"1;plain ascii text\n" * 200_000 + "2;Gebühr Müller\n".encode("cp1252"))
    assert textencoding.detect(path) == "cp1252"
    path.write_bytes(b"a;b\n" + b"1;plain ascii text\n" * 200_000)
    assert textencoding.detect(path) == "utf-8"


@FAST
@given(lines=LINES, size=st.integers(1, 64), bad_line=st.integers(0, 29))
def test_the_reader_gives_the_text_in_any_block_size_and_names_the_bad_line(lines: list[str], size: int,
                                                                             bad_line: int) -> None:
    text = "\n".join(lines) + "\n"
    reader = Utf8Reader(io.BytesIO(text.encode("cp1252")), "cp1252", "f.csv")
    first = reader.readline()
    rest = b"".join(iter(lambda: reader.read(size), b""))
    assert (first + rest).decode() == text
    raw = [line.encode("cp1252") for line in lines]
    at = bad_line % len(raw)
    raw[at] += b"\x81"  # not a cp1252 character
    with pytest.raises(DecodeFailure, match=rf"^f\.csv: line {at + 1}: not valid cp1252 text") as failure:
        reader = Utf8Reader(io.BytesIO(b"\n".join(raw) + b"\n"), "cp1252", "f.csv")
        b"".join(iter(lambda: reader.read(size), b""))
    assert failure.value.line == at + 1


def test_an_unknown_encoding_is_one_clear_error() -> None:
    with pytest.raises(Exception, match=r"^f\.csv: line 1: unknown encoding 'klingon'"):
        Utf8Reader(io.BytesIO(b""), "klingon", "f.csv")
