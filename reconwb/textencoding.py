"""Text encodings of the files banks and invoicing tools export: found, not asked for, and read as a stream.

German and French banks still write CSV in Windows-1252 or Latin-1, Polish and Czech ones MT940 in cp1250 or
cp852, and Excel puts a byte-order mark before UTF-8. Every reader of text files (statement CSV and MT940,
payments CSV) asks `detect` when the user gave no `--encoding`: UTF-8 when the bytes are UTF-8, else the
single-byte code page that reads them most plausibly. Only lines with non-ASCII bytes tell encodings
apart, so `detect` reads the file as a stream and looks at those, wherever they are in the file. `Utf8Reader`
turns a file in any encoding into UTF-8 blocks (what polars reads) with memory for one block.
"""

from __future__ import annotations

import codecs
import io
import unicodedata
from pathlib import Path
from typing import BinaryIO

from reconwb.errors import InvalidInput

UTF8 = "utf-8"
# single-byte code pages of bank files, the likeliest first: Western European, then Central European (cp852:
# DOS Central European); tags, amounts and dates are ASCII in all of them
SINGLE_BYTE = ("cp1252", "cp1250", "cp852", "latin_1", "iso8859_2")
# non-ASCII symbols bank and invoice text uses (others in a decoded sample suggest the wrong code page)
BANK_SYMBOLS = frozenset("€£¥°§«»–—‘’‚“”„•…×·¢©®")
SAMPLE_BYTES = 64 * 1024  # of non-ASCII lines: plenty to tell the code pages apart
SCAN_BLOCK = 1 << 20


class DecodeFailure(InvalidInput):
    """A byte that does not decode in the file's encoding; `line` is its 1-based file line."""

    def __init__(self, name: str, line: int, encoding: str) -> None:
        self.line = line
        self.detail = f"not valid {encoding} text; pass --encoding with the file's encoding"
        super().__init__(f"{name}: line {line}: {self.detail}")


def detect(source: Path | bytes) -> str:
    """The encoding of a text file or its bytes: `utf-8` when its non-ASCII lines are UTF-8 (or there are
    none; a byte-order mark included), else the single-byte code page that reads them best."""
    sample = _non_ascii_lines(source)
    if not sample or any(_utf8(line) for line in sample.split(b"\n")):
        # text in a single-byte code page is next to never valid UTF-8: one such line makes the file UTF-8, and
        # a line that is not is then refused at its line rather than every line garbled
        return UTF8
    return _single_byte(sample)


def _utf8(data: bytes) -> bool:
    try:
        data.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _single_byte(sample: bytes) -> str:
    """The code page of SINGLE_BYTE that reads `sample` most plausibly, the first in SINGLE_BYTE's order on a
    tie (German and French text reads alike in cp1250 and cp1252, and Western exports are far more common)."""
    scores = {}
    for code in SINGLE_BYTE:
        try:
            scores[code] = _implausible(sample.decode(code))
        except UnicodeDecodeError:  # a byte this code page leaves undefined (0x81 in cp1252, ...)
            continue
    return min(scores, key=lambda code: (scores[code], SINGLE_BYTE.index(code)))


def _implausible(text: str) -> int:
    """How unlike bank text the non-ASCII characters of `text` are: a control character (0x80-0x9f read as
    Latin-1) counts 3, a capital right after a small letter (`ódŸ`, `LefŔvre`) 2, a symbol that is not one banks
    write (`gę¶l`, box drawing from cp852) 1; letters in their place count nothing.

    charset-normalizer measures this for long texts, but on the few accented words of a bank export it reads
    French as cp1250 (`Hélčne`) and finds nothing for Polish in cp1250, so reconwb scores what it needs itself.
    """
    score = 0
    previous = ""
    for char in text:
        if not char.isascii():
            category = unicodedata.category(char)
            if category[0] == "C":
                score += 3
            elif char.isupper() and previous.islower():
                score += 2
            elif not char.isalpha() and char not in BANK_SYMBOLS:
                score += 1
        previous = char
    return score


def _non_ascii_lines(source: Path | bytes) -> bytes:
    """Up to SAMPLE_BYTES of the lines that hold a non-ASCII byte, read in blocks that end at a line end."""
    found: list[bytes] = []
    size = 0
    with source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as fh:
        while size < SAMPLE_BYTES:
            block = fh.read(SCAN_BLOCK)
            if not block:
                break
            block += fh.readline()  # a multi-byte character is never cut in two
            if block.isascii():
                continue
            for line in block.split(b"\n"):
                if not line.isascii():
                    found.append(line)
                    size += len(line) + 1
                    if size >= SAMPLE_BYTES:
                        break
    return b"\n".join(found)


def is_utf8(encoding: str | None) -> bool:
    """True for UTF-8 under any of its spellings (what polars reads as it is)."""
    return (encoding or UTF8).lower().replace("-", "").replace("_", "") in ("utf8", "utf8lossy", "utf8sig")


class Utf8Reader:
    """A binary file in `encoding` read as UTF-8 bytes, a block at a time (`read`, `readline`): memory for one
    block whatever the file's size. A byte that does not decode raises DecodeFailure with its line."""

    def __init__(self, fh: BinaryIO, encoding: str, name: str) -> None:
        try:
            self._decoder = codecs.getincrementaldecoder(encoding)()
        except LookupError:
            raise InvalidInput(f"{name}: line 1: unknown encoding {encoding!r}") from None
        self._fh, self._encoding, self._name = fh, encoding, name
        self._buffer = ""  # decoded, not handed out yet
        self._lines = 0  # line ends handed out
        self._done = False

    def __enter__(self) -> Utf8Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def _fill(self, size: int) -> bool:
        """Decode about `size` more bytes into the buffer; False at the end of the file."""
        if self._done:
            return False
        raw = self._fh.read(size)
        try:
            self._buffer += self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as err:
            line = self._lines + self._buffer.count("\n") + raw.count(b"\n", 0, max(err.start, 0)) + 1
            raise DecodeFailure(self._name, line, self._encoding) from None
        self._done = not raw
        return True

    def _take(self, count: int) -> bytes:
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        self._lines += out.count("\n")
        return out.encode(UTF8)

    def read(self, size: int = -1) -> bytes:
        """About `size` characters (all that is left when negative) as UTF-8."""
        while (size < 0 or len(self._buffer) < size) and self._fill(size if size > 0 else SCAN_BLOCK):
            pass
        return self._take(len(self._buffer) if size < 0 else size)

    def readline(self) -> bytes:
        while "\n" not in self._buffer and self._fill(SAMPLE_BYTES):
            pass
        cut = self._buffer.find("\n") + 1
        return self._take(cut or len(self._buffer))
