"""Assisted login: a fetch that waits at the bank's second-factor page for a code a person types elsewhere.

The fetch and the person are usually in different processes (a job kernel scrapes; the analyst answers in a
notebook widget or with `reconwb otp NAME CODE`), and DuckDB allows one writer at a time, so they meet in the
store, never over a held connection:

1. the fetch records a challenge (`otp_challenges` row: screenshot of the bank page, prompt, expiry) and puts the
   connection in `awaiting_otp`;
2. `submit_otp` seals the code in the vault under `otp/<challenge_id>` and marks the challenge `answered`;
3. the fetch, polling every `POLL_SECONDS` with short store opens, takes the code, deletes the sealed copy, and
   types it into the same browser page it kept open.

The wait is bounded (`wait_seconds()`, default 5 minutes, `RECONWB_OTP_WAIT` seconds): a job is never blocked
for longer, and banks expire their code pages after a few minutes anyway. When the time is up the challenge is
`expired`, a late code is refused, the browser context is closed by the fetch, and the connection leaves
`awaiting_otp` for `reconnect_required` with the reason (a person has to start again with Run now). A fetch
that dies while waiting leaves a `waiting` row past its expiry; `expire_stale` closes it the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from dataclasses import dataclass

import duckdb

from reconwb import connections, lifecycle
from reconwb.connectors.errors import OtpExpired
from reconwb.errors import Conflict, InvalidInput
from reconwb.redaction import register_secret
from reconwb.store.db import transaction
from reconwb.vault import Vault
from reconwb.workspace import Workspace

DEFAULT_WAIT_SECONDS = 300.0
POLL_SECONDS = 0.5
_CODE = re.compile(r"^[0-9A-Za-z]{4,12}$")
EXPIRED_REASON = "the one-time code was not entered in time; Start again for a new login"


def wait_seconds() -> float:
    return float(os.environ.get("RECONWB_OTP_WAIT", DEFAULT_WAIT_SECONDS))


def owner(challenge_id: int) -> str:
    return f"otp/{challenge_id}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Challenge:
    challenge_id: int
    connection: str
    status: str
    prompt: str | None
    screenshot: bytes | None
    created_at: dt.datetime
    expires_at: dt.datetime

    def as_dict(self) -> dict[str, object]:
        return {"challenge_id": self.challenge_id, "connection": self.connection, "status": self.status,
                "prompt": self.prompt, "created_at": self.created_at, "expires_at": self.expires_at,
                "has_screenshot": self.screenshot is not None}


def open_challenge(ws: Workspace, connection_id: int, run_id: int | None, screenshot: bytes, prompt: str) -> int:
    """Record what the bank asks and move the connection to `awaiting_otp`."""
    expires = _now() + dt.timedelta(seconds=wait_seconds())
    with ws.connect() as con, transaction(con):
        expire_stale(con)
        challenge_id = con.execute(
            "INSERT INTO otp_challenges (connection_id, run_id, prompt, screenshot, expires_at) VALUES (?, ?, ?, ?, ?)"
            " RETURNING challenge_id",
            [connection_id, run_id, prompt, screenshot, expires],
        ).fetchall()[0][0]
        lifecycle.set_health(con, connection_id, "awaiting_otp",
                             f"enter the one-time code the bank sent before {expires:%H:%M:%S} UTC")
    return int(challenge_id)


def _take_code(ws: Workspace, challenge_id: int) -> str | None:
    vault = ws.vault()
    with ws.connect() as con, transaction(con):
        row = con.execute("SELECT status FROM otp_challenges WHERE challenge_id = ?", [challenge_id]).fetchall()
        if not row or row[0][0] != "answered":
            return None
        code = vault.get(con, owner(challenge_id))
        Vault.delete(con, owner(challenge_id))
        con.execute("UPDATE otp_challenges SET status = 'used', closed_at = now() WHERE challenge_id = ?",
                    [challenge_id])
    return code


def _expire(ws: Workspace, challenge_id: int, reason: str) -> None:
    with ws.connect() as con, transaction(con):
        con.execute(
            "UPDATE otp_challenges SET status = 'expired', closed_at = now(), reason = ? WHERE challenge_id = ?"
            " AND status IN ('waiting', 'answered')",
            [reason, challenge_id],
        )
        Vault.delete(con, owner(challenge_id))


async def wait_for_code(ws: Workspace, connection_id: int, run_id: int | None, screenshot: bytes, prompt: str) -> str:
    """Record a challenge and wait (bounded) for a person's code; `OtpExpired` when none comes in time."""
    challenge_id = await asyncio.to_thread(open_challenge, ws, connection_id, run_id, screenshot, prompt)
    deadline = time.monotonic() + wait_seconds()
    try:
        while time.monotonic() < deadline:
            code = await asyncio.to_thread(_take_code, ws, challenge_id)
            if code:
                return code
            await asyncio.sleep(POLL_SECONDS)
    except BaseException:  # cancelled or the store failed: nobody must answer a fetch that is gone
        await asyncio.to_thread(_expire, ws, challenge_id, "the waiting fetch stopped")
        raise
    await asyncio.to_thread(_expire, ws, challenge_id, EXPIRED_REASON)
    raise OtpExpired(f"no one-time code arrived within {wait_seconds():.0f} s; {EXPIRED_REASON}")


def submit_otp(ws: Workspace, name: str, code: str) -> dict[str, object]:
    """Hand a person's one-time code to the fetch waiting for connection `name`."""
    code = code.strip()
    if not _CODE.match(code):
        raise InvalidInput("a one-time code is 4 to 12 letters or digits")
    register_secret(code)
    vault = ws.vault()
    with ws.connect() as con, transaction(con):
        conn = connections.get(con, name)
        assert conn is not None
        expire_stale(con)
        row = con.execute(
            "SELECT challenge_id FROM otp_challenges WHERE connection_id = ? AND status = 'waiting'"
            " AND expires_at > ? ORDER BY challenge_id DESC LIMIT 1",
            [conn.connection_id, _now()],
        ).fetchall()
        if not row:
            raise Conflict(f"no one-time code is awaited for {name!r} (none was asked, or it expired); start a"
                           f" login with `reconwb sync {name} --now` and enter the code the bank then sends")
        challenge_id = int(row[0][0])
        vault.put(con, owner(challenge_id), code)
        con.execute("UPDATE otp_challenges SET status = 'answered', answered_at = now() WHERE challenge_id = ?",
                    [challenge_id])
    return {"connection": name, "challenge_id": challenge_id, "status": "answered"}


def pending_challenge(ws: Workspace, name: str) -> Challenge | None:
    """The challenge a person could answer now for `name` (with the bank page's screenshot), if any."""
    with ws.connect() as con:
        conn = connections.get(con, name)
        assert conn is not None
        rows = con.execute(
            "SELECT challenge_id, status, prompt, screenshot, created_at, expires_at FROM otp_challenges"
            " WHERE connection_id = ? AND status = 'waiting' AND expires_at > ? ORDER BY challenge_id DESC LIMIT 1",
            [conn.connection_id, _now()],
        ).fetchall()
    if not rows:
        return None
    cid, status, prompt, shot, created, expires = rows[0]
    return Challenge(int(cid), name, status, prompt, bytes(shot) if shot is not None else None, created, expires)


def expire_stale(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Challenges past their expiry whose fetch is gone: close them and release their connections."""
    rows = con.execute(
        "SELECT challenge_id, connection_id FROM otp_challenges WHERE status IN ('waiting', 'answered')"
        " AND expires_at < ?",
        [_now() - dt.timedelta(seconds=5)],  # a little grace: the live fetch expires its own challenge
    ).fetchall()
    for challenge_id, connection_id in rows:
        con.execute(
            "UPDATE otp_challenges SET status = 'expired', closed_at = now(), reason = ? WHERE challenge_id = ?",
            [EXPIRED_REASON, challenge_id],
        )
        Vault.delete(con, owner(challenge_id))
        health = con.execute("SELECT health FROM connections WHERE connection_id = ?", [connection_id]).fetchall()
        if health and health[0][0] == "awaiting_otp":
            lifecycle.set_health(con, connection_id, "reconnect_required", EXPIRED_REASON)
    return [r[0] for r in rows]
