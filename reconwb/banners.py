"""What a person must be told about each connection, in the seeds' words.

Dashboards render these as banners, the analyst status table as badges, notifications as text: one function
decides, so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reconwb import otp
from reconwb.connections import Connection
from reconwb.last_attempt import RETRYING, Attempt, display
from reconwb.openbanking import consent

# the seeds' advice: rotate every 2 months, banks invalidate about every 3
ROTATE_AFTER_DAYS = 60
SWITCH_TO_ASSISTED = "Switch to assisted login"
UPDATE_CREDENTIALS = "Update credentials"
RUN_NOW = "Run now"
START_AGAIN = "Start again"  # an expired one-time code: a new login asks for a new code
CHECK_NOW = "Check now"  # saved credentials whose check with the bank has not run
RECONNECT = "Reconnect"  # renew an open-banking consent at the provider before it ends
FETCH_ACTIONS = (RUN_NOW, START_AGAIN, CHECK_NOW)


@dataclass(frozen=True)
class Banner:
    connection: str
    kind: str  # the health state, or "credential_age"
    level: str  # warning | info | danger
    title: str
    message: str
    action: str | None = None  # the button a person should press


def for_connection(
    conn: Connection,
    *,
    bank_name: str | None = None,
    now: dt.datetime | None = None,
    rotate_after_days: int = ROTATE_AFTER_DAYS,
    last_attempt: Attempt | None = None,
) -> list[Banner]:
    """The banners `conn` needs right now; empty when all is well. With its `last_attempt`, a failed one keeps
    a banner up (`retrying`) until a fetch succeeds, even while the health still reads `ok`."""
    now = now or dt.datetime.now(dt.UTC)
    bank = bank_name or conn.bank_id
    reason = conn.health_reason or ""
    found: list[Banner] = []
    match conn.health:
        case "reconnect_required" if conn.credentials_set_at is None:
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "Credentials needed",
                    f"Enter the {bank} password for {conn.name} to start fetching deposits.",
                    UPDATE_CREDENTIALS,
                )
            )
        case "reconnect_required" if conn.credentials_rejected is None and otp.EXPIRED_REASON in reason:
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "One-time code expired",
                    f"The one-time code {bank} asked for to let {conn.name} in was not entered in time."
                    " Start again: the bank sends a new code.",
                    START_AGAIN,
                )
            )
        case "reconnect_required" if conn.credentials_rejected == "OtpRejected":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "One-time code refused",
                    f"{bank} refused the one-time code entered for {conn.name}"
                    f"{': ' + reason if reason else ''}. Wrong codes count like wrong passwords at most banks, so"
                    " reconwb will not log in again on its own: update the credentials to start a new login.",
                    UPDATE_CREDENTIALS,
                )
            )
        case "reconnect_required":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "Bank password no longer valid",
                    f"{bank} rejected the saved credentials for {conn.name}"
                    f"{': ' + reason if reason else ''}. Update credentials to resume deposits; reconwb will not"
                    " try the rejected ones again.",
                    UPDATE_CREDENTIALS,
                )
            )
        case "refreshing" if conn.running_run_id is not None:
            found.append(
                Banner(
                    conn.name,
                    "checking",
                    "info",
                    "Checking with the bank…",
                    f"reconwb is logging in to {bank} for {conn.name} to check the credentials and fetch deposits.",
                )
            )
        case "refreshing":
            until = conn.refreshing_until
            expected = f" (expected by {until:%H:%M} UTC)" if until else ""
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "info",
                    "Deposits are refreshing, do not close",
                    f"New credentials for {conn.name} were saved; the bank has not answered yet. Deposits may take up"
                    f" to 15 minutes to appear{expected}; an earlier banner may still show meanwhile.",
                    CHECK_NOW,
                )
            )
        case "awaiting_otp" if conn.login_mode != "assisted":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "One-time code needed at every login",
                    f"{bank} asks for a one-time code each time {conn.name} logs in, which an unattended fetch"
                    " cannot give. Switch to assisted login: the fetch then pauses at the bank's code page and asks"
                    " for the code here.",
                    SWITCH_TO_ASSISTED,
                )
            )
        case "awaiting_otp":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "One-time code needed",
                    f"{bank} asks for a one-time code to let {conn.name} in. Enter the code before it expires.",
                    "Enter code",
                )
            )
        case "blocked" if conn.credentials_rejected == "AccountLocked":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "danger",
                    "The bank has locked this login",
                    f"{bank} has locked the login of {conn.name}; unlock it with the bank, then update the"
                    " credentials here. reconwb will not log in until then.",
                    UPDATE_CREDENTIALS,
                )
            )
        case "blocked":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "danger",
                    "Needs attention",
                    f"{conn.name} stopped logging in so the bank does not lock the account"
                    f"{': ' + reason if reason else ''}. Update the credentials to go on.",
                    UPDATE_CREDENTIALS,
                )
            )
        case "broken":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "Connector needs an update",
                    f"{bank}'s website changed or the connector failed for {conn.name}"
                    f"{': ' + reason if reason else ''}. reconwb retries with backoff.",
                )
            )
        case "bank_disabled":
            found.append(
                Banner(
                    conn.name,
                    conn.health,
                    "warning",
                    "Bank unavailable",
                    f"{bank} is currently unavailable for data; deposits for {conn.name} resume when it is back.",
                )
            )
    if conn.health != "obsolete" and consent.due(conn.consent_expires_at, now):
        assert conn.consent_expires_at is not None
        found.append(
            Banner(
                conn.name,
                "consent_expiring",
                "warning",
                "Bank access ends soon",
                f"{consent.message(conn.name, conn.consent_expires_at)} before then; accounts and history are kept.",
                RECONNECT,
            )
        )
    shown = display(conn, last_attempt)
    if shown.state == RETRYING:
        after = f" Next attempt at {shown.next_attempt_at:%Y-%m-%d %H:%M} UTC." if shown.next_attempt_at else ""
        found.append(
            Banner(
                conn.name,
                RETRYING,
                "warning",
                "Last fetch failed, retrying",
                f"The last fetch of {conn.name} from {bank} failed: {shown.reason}.{after} Deposits are not"
                " up to date until a fetch succeeds.",
                "Run now",
            )
        )
    age = conn.credential_age_days(now)
    if conn.health not in ("obsolete",) and age is not None and age > rotate_after_days:
        found.append(
            Banner(
                conn.name,
                "credential_age",
                "info",
                "Rotate the bank password soon",
                f"The password for {conn.name} is {age} days old. Banks invalidate passwords about every 3 months;"
                " rotate it now to avoid an interruption.",
                UPDATE_CREDENTIALS,
            )
        )
    return found
