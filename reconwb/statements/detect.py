"""Which reader a file needs, judged from its first bytes rather than its name (banks name files anything)."""

from __future__ import annotations

import re

from reconwb.statements.model import Source, StatementError, open_source, source_name

SNIFF_BYTES = 64 * 1024
MT940_TAG = re.compile(rb"^:(20|25|28C?|60[FM]|61|62[FM]):", re.MULTILINE)
CAMT_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]")


def detect(source: Source, name: str | None = None) -> str:
    """One of `ofx`, `camt`, `mt940`, `csv`; a clear error for empty, binary or unknown content."""
    name = source_name(source, name)
    try:
        with open_source(source) as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as err:
        raise StatementError(f"cannot read file: {err.strerror}", file=name) from None
    return detect_bytes(head, name)


def detect_bytes(head: bytes, name: str) -> str:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise StatementError("empty file", file=name, line=1)
    if b"\x00" in head[:4096]:
        raise StatementError("binary content (NUL bytes): not a statement file, or UTF-16 (save it as UTF-8)",
                             file=name)
    upper = text[:4096].upper()
    if upper.startswith(b"OFXHEADER") or b"<OFX>" in upper or b"<?OFX" in upper:
        return "ofx"
    if text.startswith(b"<"):
        if CAMT_NAMESPACE.search(text):
            return "camt"
        raise StatementError("XML that is neither CAMT.052/053/054 nor OFX", file=name, line=1)
    if MT940_TAG.search(text):
        return "mt940"
    head_lines = text.split(b"\n", 6)[:6]  # exports may open with a title line above the header
    if any(sep in line for line in head_lines for sep in (b",", b";", b"\t", b"|")):
        return "csv"
    raise StatementError("unknown statement format (not OFX, MT940, CAMT or CSV); pass --format", file=name, line=1)
