"""Workspace settings: a few named values with defaults, validated on write."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reconwb.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise InvalidInput(f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    return check


def _positive_int(value: str) -> str:
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"expected a positive whole number, got {value!r}")
    return value


def _text(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise InvalidInput(f"expected a non-empty value without spaces, got {value!r}")
    return value


def http_url(value: str, what: str = "URL") -> str:
    """`value` if it is an absolute http(s) URL with a host (the one rule for every URL reconwb fetches from)."""
    parts = urlsplit(value) if value.isprintable() and not any(c.isspace() for c in value) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} must be an http:// or https:// URL with a host, not {value!r}")
    return value


def _url(value: str) -> str:
    return http_url(value).rstrip("/")


def _locale(value: str) -> str:
    from reconwb.formatting import check_locale

    return check_locale(value)


# name -> (default, validator, what it is for)
SETTINGS: dict[str, tuple[str, Callable[[str], str], str]] = {
    "operation_mode": (
        "reconcile",
        _choice("reconcile", "passthrough"),
        "match payments, or forward every transaction",
    ),
    "auto_reconcile": (
        "true",
        _choice("true", "false"),
        "in reconcile mode, reconcile each ingest's new deposits right after landing them",
    ),
    "lockout_budget": (
        "2",
        _positive_int,
        "most failed logins reconwb spends on one set of credentials (never more than the bank's limit minus one)",
    ),
    "refresh_window_minutes": ("15", _positive_int, "how long new credentials may take to show deposits"),
    "credential_max_age_days": ("60", _positive_int, "warn when a password is older than this"),
    # no default: a real workspace must never talk to the simulator by accident
    "aggregator_url": ("", _url, "base URL of the open-banking aggregator API (not set until configured)"),
    "webhook_retention_days": ("90", _positive_int, "days the delivery log keeps delivered messages and attempts"),
    "locale": ("en_US", _locale, "how screens write money, dates and numbers (en_US, en_GB, de_DE, fr_CH...)"),
    "smtp_host": ("localhost", _text, "SMTP server for e-mail notifications"),
    "smtp_port": ("25", _positive_int, "SMTP port"),
    "smtp_from": ("reconwb@localhost", _text, "sender address of e-mail notifications"),
}


def get(con: duckdb.DuckDBPyConnection, key: str) -> str:
    if key not in SETTINGS:
        raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else SETTINGS[key][0]


def get_int(con: duckdb.DuckDBPyConnection, key: str) -> int:
    return int(get(con, key))


def auto_reconciles(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether an ingest's new deposits are reconciled right after they land (reconcile mode, not switched off)."""
    return get(con, "operation_mode") == "reconcile" and get(con, "auto_reconcile") == "true"


def set_value(con: duckdb.DuckDBPyConnection, key: str, value: str) -> str:
    if key not in SETTINGS:
        raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    value = SETTINGS[key][1](value)
    con.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        [key, value],
    )
    return value


def all_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {key: get(con, key) for key in SETTINGS}
