"""New credentials, one path for every screen: store them, take the provider's next step, ask the bank.

The CLI (`connections credentials`, `connections update`), the dashboards' credential form and the analyst's
account selection all call `update_credentials` (or its three steps, when a widget runs the bank part on a
thread). Saving is not the bank's answer: reconwb says "accepted" only after a fetch with the new credentials
worked, and says what the bank answered otherwise. Every bank round trip here goes through the fetch guard
(`reconwb.attempts`), so new credentials cannot lock a login either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from reconwb import attempts, connections, lifecycle, sync
from reconwb.connectors import errors as taxonomy
from reconwb.openbanking import adapter, linking
from reconwb.workspace import Workspace

# verdicts
ACCEPTED = "accepted"  # a fetch with the new credentials worked
REJECTED = "rejected"  # the bank (or provider) refused them
WAITING = "waiting"  # the bank asks for a one-time code, or the provider will send the data later
NOT_CHECKED = "not_checked"  # saved; the bank could not be asked now (down, busy, a fetch under way)
SAVED = "saved"  # saved without asking the bank (`check=False`)


@dataclass
class Verdict:
    """What the bank answered to new credentials, in words a person can act on."""

    connection: str
    status: str
    health: str
    message: str
    step: dict[str, Any] | None = None
    fetch: dict[str, Any] | None = None
    update: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """For the CLI: 0 accepted or saved, 1 rejected, 3 not checked or waiting."""
        return {ACCEPTED: 0, SAVED: 0, REJECTED: 1}.get(self.status, 3)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def save(
    ws: Workspace,
    name: str,
    credentials: dict[str, str] | None,
    *,
    selected: Iterable[str] | None = None,
    confirm: Callable[[connections.UpdatePlan], bool] | None = None,
) -> connections.UpdatePlan:
    """Seal the credentials (and the accounts that stay selected), all or nothing; nothing is sent anywhere."""
    with ws.connect() as con:
        return connections.update(con, ws.vault(), name, credentials=credentials, selected=selected, confirm=confirm)


def next_step(ws: Workspace, name: str, *, otp: str | None = None, fetch: bool = False) -> dict[str, Any] | None:
    """The provider's step after new credentials (an open-banking link or reconnect), or None for portals, which
    need nothing: the verifying fetch logs in with the new password.

    The step sends the password to the provider, so it holds the connection's lease like any login; with
    `fetch`, a fetch follows when the step went through (as `reconwb aggregator reconnect` does).
    """
    with ws.connect() as con:
        conn = connections.get(con, name)
    assert conn is not None
    if adapter.for_connector(conn.connector) is None:
        return None
    with attempts.hold(ws, name):
        outcome = linking.reconnect_step(ws, name, otp=otp, fetch=False)
    if fetch and outcome.get("status") in linking.FETCH_AFTER:
        result = sync.sync(ws, name)
        outcome["sync"] = result.as_dict()
        outcome["health"] = result.health
    return outcome


def check(ws: Workspace, name: str, *, otp: str | None = None) -> Verdict:
    """Ask the bank: the provider's step, then one verifying fetch (a person's Run now, through the guard)."""
    step = next_step(ws, name, otp=otp)
    if step is not None and step.get("status") not in linking.FETCH_AFTER:
        return _from_step(ws, name, step)
    result = sync.sync(ws, name, now=True)
    if result.status == "skipped" and result.skip_kind == attempts.RUNNING and result.run_id is not None:
        result = sync.outcome_of(ws, result.run_id)  # another fetch logs in now: its answer is the bank's
    verdict = judge(ws, result)
    verdict.step = step
    return verdict


def update_credentials(
    ws: Workspace,
    name: str,
    credentials: dict[str, str] | None,
    *,
    selected: Iterable[str] | None = None,
    confirm: Callable[[connections.UpdatePlan], bool] | None = None,
    otp: str | None = None,
    check_with_bank: bool = True,
) -> Verdict:
    """Store new credentials, take the provider's next step, and ask the bank with one fetch.

    Returns what the bank answered; with `check_with_bank=False`, only that they were saved.
    """
    plan = save(ws, name, credentials, selected=selected, confirm=confirm)
    if not check_with_bank or not plan.credentials_changed:
        verdict = _current(ws, name, SAVED, f"saved the update of {name}; the next fetch checks it with the bank")
    else:
        verdict = check(ws, name, otp=otp)
    verdict.update = plan.as_dict()
    return verdict


def judge(ws: Workspace, result: sync.SyncResult) -> Verdict:
    """The verdict a verifying fetch's result amounts to."""
    name = result.connection
    fetch = result.as_dict()
    if result.status == "ok":
        return Verdict(name, ACCEPTED, result.health,
                       f"the bank accepted the credentials of {name}: {result.inserted} new transactions", fetch=fetch)
    if result.status == "pending":
        return Verdict(name, WAITING, result.health,
                       f"the provider accepted {name}; the transactions arrive when its results are ready",
                       fetch=fetch)
    if result.status == "skipped":
        return Verdict(name, NOT_CHECKED, result.health, f"saved, not checked yet: {result.message}", fetch=fetch)
    with ws.connect() as con:
        conn = connections.get(con, name)
    assert conn is not None
    if conn.health == "awaiting_otp":
        return Verdict(name, WAITING, conn.health, f"the bank asks for a one-time code for {name}", fetch=fetch)
    if conn.credentials_rejected:
        return Verdict(name, REJECTED, conn.health, f"the bank rejected the credentials of {name}: {result.message}",
                       fetch=fetch)
    return Verdict(name, NOT_CHECKED, conn.health,
                   f"saved, but the bank could not be asked now ({result.message}); reconwb tries again later",
                   fetch=fetch)


def _from_step(ws: Workspace, name: str, step: dict[str, Any]) -> Verdict:
    status = step.get("status")
    message = str(step.get("message") or status)
    if status == "otp-required":
        return _current(ws, name, WAITING, message, step=step)
    failure = getattr(taxonomy, str(step.get("error")), None)
    rejected = isinstance(failure, type) and issubclass(failure, taxonomy.ConnectorError) and failure.fatal
    if rejected:
        return _current(ws, name, REJECTED, f"the bank rejected the credentials of {name}: {message}", step=step)
    return _current(ws, name, NOT_CHECKED, f"saved, but the provider's step failed: {message}", step=step)


def _current(ws: Workspace, name: str, status: str, message: str, **extra: Any) -> Verdict:
    with ws.connect() as con:
        conn = connections.get(con, name)
    assert conn is not None
    return Verdict(name, status, conn.health, message, **extra)


def retry_budget(ws: Workspace, name: str) -> lifecycle.Budget:
    """The failed logins recorded for the current credentials, for a deliberate retry's confirm step."""
    with ws.connect() as con:
        conn = connections.get(con, name)
        assert conn is not None
        return lifecycle.budget(con, conn.connection_id)
