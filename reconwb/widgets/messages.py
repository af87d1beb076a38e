"""How widgets tell a person that something failed: one style, always redacted."""

from __future__ import annotations

import html

from reconwb.redaction import redact_exception


def error_html(err: BaseException | None) -> str:
    """The failure as a red line for an `HTML` widget; secrets in the message are masked."""
    return f"<span style='color:#b00'>{html.escape(redact_exception(err) if err else 'unknown error')}</span>"
