"""Keeping secrets out of logs, exceptions, notebooks and HTML.

Two nets. Patterns catch what looks like a secret whatever its value (`password=...`, `Bearer ...`,
`whsec_...`). The registry catches the actual values this process has decrypted or been given, even when they
appear bare ("login failed for hunter2"). The registry keeps only salted digests of those values, never the
values, so a decrypted password does not outlive the fetch that needed it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading

MASK = "***"
MIN_SECRET_LENGTH = 4

_PATTERNS = [
    # key=value and key: value, for keys that name a secret
    re.compile(
        r"(?i)(\b(?:password|passwd|pwd|passcode|secret|token|api[_-]?key|otp|credentials?)\b[\"']?\s*[=:]\s*[\"']?)"
        r"([^\s\"',;&}]+)"
    ),
    re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(?i)(\bapi-key\s*[:=]?\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"()(whsec_[A-Za-z0-9+/=]+)"),
]

_salt = os.urandom(16)
_lock = threading.Lock()
_digests: dict[int, set[bytes]] = {}


def _digest(value: str) -> bytes:
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), key=_salt, digest_size=16).digest()


def register_secret(value: str | None) -> None:
    """Remember `value` (as a digest) so that `redact` masks it wherever it appears."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _digests.setdefault(len(value), set()).add(_digest(value))


def forget_secrets() -> None:
    """Drop every registered value (tests use this)."""
    with _lock:
        _digests.clear()


def _mask_registered(text: str) -> str:
    with _lock:
        lengths = sorted(((n, set(d)) for n, d in _digests.items()), reverse=True)
    if not lengths:
        return text
    out: list[str] = []
    i = 0
    start = 0
    while i < len(text):
        for length, digests in lengths:
            if i + length <= len(text) and _digest(text[i : i + length]) in digests:
                out.append(text[start:i])
                out.append(MASK)
                i += length
                start = i
                break
        else:
            i += 1
    out.append(text[start:])
    return "".join(out)


def redact(text: object) -> str:
    """`text` as a string with every secret it contains replaced by `***`."""
    result = str(text)
    for pattern in _PATTERNS:
        result = pattern.sub(lambda m: m.group(1) + MASK, result)
    return _mask_registered(result)


def redact_exception(err: BaseException) -> str:
    """A one-line, safe description of an exception."""
    message = redact(err).strip().splitlines()
    return message[0] if message else type(err).__name__


class RedactionFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    if getattr(record, "_reconwb_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    record._reconwb_redacted = True


_installed = False


def install() -> None:
    """Redact every log record this process creates, whoever configured the handlers."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def setup_logging(level: int | str = "WARNING") -> None:
    """The CLI's logging: stderr, one line per record, redacted."""
    install()
    handler = logging.StreamHandler()
    handler.addFilter(RedactionFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
