"""The failure taxonomy: what a connector raises, and what each failure means for the connection.

Every class carries the health state it leads to, whether it spends the lockout budget (`fatal`: a failure
that, repeated, could lock a real account), and its retry policy. `reconwb.lifecycle` reads these attributes;
nothing else decides. An exception outside this taxonomy means the connector itself failed: `broken`, never
`reconnect_required`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from reconwb.errors import ReconwbError

# retry policies
NEVER = "never"  # a person must act (new password, Run now)
ON_ANSWER = "on_answer"  # waits for the user's OTP
ON_RESULT = "on_result"  # waits for the aggregator's results.ready (or a poll)
BACKOFF = "backoff"  # try again later, waiting longer each time
AFTER = "after"  # try again after the time the bank gave


class ConnectorError(ReconwbError):
    """Base of every failure a connector reports on purpose."""

    health: ClassVar[str | None] = None  # None: the health does not change
    fatal: ClassVar[bool] = False
    retry: ClassVar[str] = BACKOFF


class InvalidCredentials(ConnectorError):
    """The bank rejected the username or password."""

    health = "reconnect_required"
    fatal = True
    retry = NEVER


class PasswordExpired(ConnectorError):
    """The bank wants a new password before it shows anything."""

    health = "reconnect_required"
    fatal = True
    retry = NEVER


class AccountLocked(ConnectorError):
    """The bank has locked the login; only the account holder can unlock it."""

    health = "blocked"
    fatal = True
    retry = NEVER


class OtpRequired(ConnectorError):
    """The bank asks for a second factor; the fetch waits for a person to supply it."""

    health = "awaiting_otp"
    retry = ON_ANSWER

    def __init__(self, message: str, challenge: str = "", expires_at: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge
        self.expires_at = expires_at


class OtpRejected(InvalidCredentials):
    """The bank refused the one-time code a person entered. Fatal: repeated wrong codes lock real accounts."""


class OtpExpired(ConnectorError):
    """Nobody entered the one-time code in time; the challenge is gone and a person must start again."""

    health = "reconnect_required"
    retry = NEVER


class ReconnectRequired(ConnectorError):
    """The aggregator needs the user to re-consent or re-enter credentials."""

    health = "reconnect_required"
    retry = NEVER

    def __init__(self, message: str, reconnect_id: str = "", results_id: str = "") -> None:
        super().__init__(message)
        self.reconnect_id = reconnect_id
        self.results_id = results_id  # the originally requested data, ready after the reconnect


class ConnectionRevoked(ConnectorError):
    """The user revoked the provider's access or the provider removed the link: it must be linked anew."""

    health = "obsolete"
    retry = NEVER


class ResultsPending(ConnectorError):
    """The aggregator will have the data later; not a failure of the connection."""

    retry = ON_RESULT

    def __init__(self, message: str, results_id: str = "", request: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.results_id = results_id
        self.request = request or {}  # what was asked, so the results can be completed later


class SiteChanged(ConnectorError):
    """The bank's pages no longer look as the connector expects: the connector needs an update."""

    health = "broken"


class RateLimited(ConnectorError):
    """The bank asked us to slow down."""

    retry = AFTER

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BankUnavailable(ConnectorError):
    """The bank is down or in maintenance; nothing is wrong with the connection."""


class Transient(ConnectorError):
    """A passing fault: timeout, dropped connection, a 5xx."""


TAXONOMY: tuple[type[ConnectorError], ...] = (
    InvalidCredentials,
    PasswordExpired,
    AccountLocked,
    OtpRequired,
    OtpRejected,
    OtpExpired,
    ReconnectRequired,
    ConnectionRevoked,
    ResultsPending,
    SiteChanged,
    RateLimited,
    BankUnavailable,
    Transient,
)
