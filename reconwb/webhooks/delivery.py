"""The delivery worker: send what is due, concurrently, and record what happened.

The store is opened only briefly and never across network I/O (one writer at a time): a worker claims a batch
under a lease, closes the store, sends, then opens it again to record the results and claim the next batch,
while the sends of the previous batch are still in flight. A worker killed at any point loses nothing: what it
had claimed but not recorded becomes due again when the lease runs out, so delivery is at-least-once (the
receiver de-duplicates by `webhook-id`) and order is not promised.

Retries follow the Svix schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then the message is
dead (kept, listed, replayable). Only a 2xx answer is success; `Retry-After` on 429/503 pushes the next try back;
410 Gone disables the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import functools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from reconwb.errors import ReconwbError
from reconwb.redaction import MASK, redact, redact_exception
from reconwb.vault import Vault
from reconwb.webhooks import outbox
from reconwb.webhooks.endpoints import Credentials, credentials
from reconwb.webhooks.outbox import Attempt, Message
from reconwb.webhooks.signing import Signer
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

# Delay before each attempt, counted from the previous one; the first is immediate.
RETRY_SCHEDULE: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_SCHEDULE)
TIMEOUT_SECONDS = 15.0
MAX_RETRY_AFTER = 24 * 3600.0
RESPONSE_LIMIT = 1024  # bytes of an answer kept in the log
LEASE_SECONDS = 300.0  # longer than any claimed batch can take to send (queue wait + the 15 s timeout)
USER_AGENT = "reconwb-webhooks/1"
POOL_SIZE = 4  # connections per HTTP client (see Worker._pool_sizes)
CREDENTIALS_TTL = 60.0  # seconds a long run keeps an endpoint's secrets before reading them again (rotations)


class DeliveryFailed(ReconwbError):
    """A test delivery did not get a 2xx answer."""


@dataclass
class DeliveryReport:
    """What one run did: messages delivered, attempts that failed and will be retried, messages now dead."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    pending: int = 0  # messages still pending after the run: due later, or held by a disabled endpoint
    attempts: int = 0
    disabled_endpoints: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


def next_delay(attempt: int, status: int | None, retry_after: float | None) -> float | None:
    """Seconds until the next try after failed attempt number `attempt` (1-based); None when none is left."""
    if attempt >= MAX_ATTEMPTS:
        return None
    delay = RETRY_SCHEDULE[attempt]
    if status in (429, 503) and retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


def _scrub(text: str, creds: Credentials | None) -> str:
    """An answer or error made safe for the log: our own secrets masked, then the usual patterns."""
    if creds is not None:
        for value in (creds.token, *creds.signing_secrets):
            if value:
                text = text.replace(value, MASK)
    return redact(text)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process (building one reads the CA bundle: ~20 ms)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class Worker:
    """One delivery run. `clock` is the wall clock in seconds (tests move it instead of sleeping).

    At most `concurrency` requests are in flight, and at most `per_endpoint` (default: half) to one endpoint,
    so an endpoint that times out slows itself down, not everyone else.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        max_seconds: float | None = None,
        concurrency: int = 64,
        per_endpoint: int | None = None,
        batch_size: int = 512,
        lease_seconds: float = LEASE_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        only: list[str] | None = None,
        single_attempt: bool = False,
        clock: Callable[[], float] = time.time,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.ws = ws
        self.max_seconds = max_seconds
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint or max(1, concurrency // 2)
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.timeout = timeout
        self.only = only
        self.single_attempt = single_attempt
        self.clock = clock
        self.progress = progress
        self.report = DeliveryReport()
        self.attempts: list[Attempt] = []  # every attempt of this run (small runs: tests, `webhooks test`)
        self._vault: Vault | None = None
        self._creds: dict[str, Credentials] = {}
        self._creds_read: dict[str, float] = {}  # monotonic time each endpoint's credentials were read
        self._signers: dict[str, Signer] = {}
        self._urls: dict[str, httpx.URL] = {}
        self._endpoint_gates: dict[str, asyncio.Semaphore] = {}
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        self._started = 0.0

    # -- the store side: short sessions, run in a thread so sends go on meanwhile ----------------------------

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def _db_step(self, results: list[Attempt], claim: int) -> list[Message]:
        """Record finished attempts, then claim up to `claim` more, in one short session."""
        gone = {
            a.endpoint_id: f"410 Gone at {a.attempted_at:%Y-%m-%d %H:%M:%S} UTC" for a in results if a.outcome == "gone"
        }
        with self.ws.connect() as con:
            outbox.record(con, results, gone)
            if claim <= 0:
                return []
            now = self._now()
            claimed = outbox.claim(
                con,
                now=now,
                lease_until=now + dt.timedelta(seconds=self.lease_seconds),
                limit=claim,
                only=self.only,
            )
            read_at = time.monotonic()
            fresh = {e for e, at in self._creds_read.items() if read_at - at < CREDENTIALS_TTL}
            for endpoint_id in {m.endpoint_id for m in claimed} - fresh:
                if self._vault is None:
                    self._vault = self.ws.vault()
                creds = credentials(con, self._vault, endpoint_id)
                self._creds[endpoint_id] = creds
                self._creds_read[endpoint_id] = read_at
                self._signers[endpoint_id] = Signer(*creds.signing_secrets)
        return claimed

    def _finish(self) -> None:
        with self.ws.connect() as con:
            self.report.pending = outbox.count_pending(con)

    # -- the network side --------------------------------------------------------------------------------------

    async def _send_one(
        self, slots: asyncio.Queue[httpx.AsyncHTTPTransport], finished: asyncio.Queue[Attempt], msg: Message
    ) -> None:
        gate = self._endpoint_gates.get(msg.endpoint_id)
        if gate is None:
            gate = self._endpoint_gates[msg.endpoint_id] = asyncio.Semaphore(self.per_endpoint)
        async with gate:  # a slow endpoint holds at most `per_endpoint` slots; the others keep flowing
            client = await slots.get()
            try:
                attempt = await self._send(client, msg)
            except Exception as err:  # a bug here must not lose the message's record or stall the run
                log.exception("webhook delivery of %s failed unexpectedly", msg.message_id)
                attempt = self._judge(msg, self.clock(), None, 0.0, None,
                                      f"internal error: {redact_exception(err)}", None, "error")
            finally:
                slots.put_nowait(client)
        finished.put_nowait(attempt)

    async def _send(self, transport: httpx.AsyncHTTPTransport, msg: Message) -> Attempt:
        creds = self._creds[msg.endpoint_id]
        sent_at = self.clock()
        headers = {
            "user-agent": USER_AGENT,
            "content-type": "application/json",
            **self._signers[msg.endpoint_id].headers(msg.message_id, int(sent_at), msg.body),
            **creds.auth_headers(msg.auth_scheme),
        }
        started = time.perf_counter()
        status: int | None = None
        response: str | None = None
        error: str | None = None
        retry_after: float | None = None
        outcome = "failed"
        try:
            async with asyncio.timeout(self.timeout):
                request = httpx.Request("POST", self._url(msg.url), headers=headers, content=msg.body.encode(),
                                        extensions={"timeout": self._timeouts})
                r = await transport.handle_async_request(request)
                try:
                    status = r.status_code
                    chunks = bytearray()
                    async for chunk in r.aiter_raw():
                        chunks += chunk
                        if len(chunks) >= RESPONSE_LIMIT:
                            break
                    if chunks:
                        response = _scrub(chunks[:RESPONSE_LIMIT].decode("utf-8", "replace"), creds)
                    retry_after = parse_retry_after(r.headers.get("retry-after"), self.clock())
                finally:
                    await r.aclose()
        except (TimeoutError, httpx.TimeoutException):
            outcome, error = "timeout", f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as err:
            outcome, error = "error", _scrub(f"{type(err).__name__}: {redact_exception(err)}", creds)
        latency_ms = (time.perf_counter() - started) * 1000
        return self._judge(msg, sent_at, status, latency_ms, response, error, retry_after, outcome)

    def _judge(
        self,
        msg: Message,
        sent_at: float,
        status: int | None,
        latency_ms: float,
        response: str | None,
        error: str | None,
        retry_after: float | None,
        outcome: str,
    ) -> Attempt:
        attempt = msg.attempts + 1
        attempted_at = dt.datetime.fromtimestamp(sent_at, dt.UTC)
        next_at = None
        if status is not None and 200 <= status < 300:
            outcome, new_status = "delivered", "delivered"
        else:
            if status is not None:
                outcome = "gone" if status == 410 else "failed"
                error = error or f"HTTP {status}"
            delay = None if self.single_attempt else next_delay(attempt, status, retry_after)
            if delay is None:
                new_status = "dead"
            else:
                new_status = "pending"
                next_at = dt.datetime.fromtimestamp(self.clock() + delay, dt.UTC)
        return Attempt(
            msg.message_id, msg.endpoint_id, attempt, attempted_at, outcome, status, latency_ms, response, error,
            new_status, next_at,
        )

    def _count(self, attempt: Attempt) -> None:
        self.report.attempts += 1
        if attempt.status == "delivered":
            self.report.delivered += 1
        elif attempt.status == "dead":
            self.report.dead += 1
        else:
            self.report.failed += 1
        if len(self.attempts) < 10_000:
            self.attempts.append(attempt)
        if self.progress is not None:
            self.progress(1)

    def _pool_sizes(self) -> list[int]:
        """Connections per client: httpcore scans its whole pool for every request, so several small pools
        cost far less CPU per delivery than one large one."""
        shards = max(1, -(-self.concurrency // POOL_SIZE))
        return [len(range(i, self.concurrency, shards)) for i in range(shards)]

    def _transport(self, size: int) -> httpx.AsyncHTTPTransport:
        """httpx's transport without the client layer: no redirects, cookies or proxies from the environment
        to honour here, and a third less CPU per request."""
        return httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size), verify=_tls_context()
        )

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def _expired(self) -> bool:
        return self.max_seconds is not None and time.monotonic() - self._started >= self.max_seconds

    async def run(self) -> DeliveryReport:
        """Claim, send and record until nothing is due (or `max_seconds` is spent); in-flight sends finish."""
        self._started = time.monotonic()
        low_water = max(self.concurrency * 2, self.batch_size)  # claim again before the sends run dry
        async with contextlib.AsyncExitStack() as stack:
            # One slot per connection allowed in flight; a slot names the client whose pool it belongs to.
            slots: asyncio.Queue[httpx.AsyncHTTPTransport] = asyncio.Queue()
            for size in self._pool_sizes():
                client = await stack.enter_async_context(self._transport(size))
                for _ in range(size):
                    slots.put_nowait(client)
            finished: asyncio.Queue[Attempt] = asyncio.Queue()
            tasks: set[asyncio.Task[None]] = set()
            results: list[Attempt] = []
            outstanding = 0
            exhausted = False
            last_flush = time.monotonic()
            while True:
                want = 0 if exhausted or self._expired() or outstanding >= low_water else self.batch_size
                flush = bool(results) and (
                    len(results) >= self.batch_size or not outstanding or time.monotonic() - last_flush >= 0.5
                )
                if want or flush:
                    batch, results = results, []
                    claimed = await asyncio.to_thread(self._db_step, batch, want)
                    last_flush = time.monotonic()
                    exhausted = exhausted or (want > 0 and len(claimed) < want)
                    for msg in claimed:
                        task = asyncio.create_task(self._send_one(slots, finished, msg))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    outstanding += len(claimed)
                    continue
                if not outstanding:
                    break
                try:
                    attempt = await asyncio.wait_for(finished.get(), timeout=0.25)
                except TimeoutError:
                    continue
                while True:
                    self._count(attempt)
                    results.append(attempt)
                    outstanding -= 1
                    if finished.empty():
                        break
                    attempt = finished.get_nowait()
        self.report.disabled_endpoints = sorted(
            {a.endpoint_id for a in self.attempts if a.outcome == "gone"}
        )
        await asyncio.to_thread(self._finish)
        self.report.seconds = time.monotonic() - self._started
        return self.report


def run_sync(worker: Worker) -> DeliveryReport:
    """Run a worker from synchronous code, also where an event loop is already running (a notebook kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(worker.run())
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, worker.run()).result()


def deliver_due(ws: Workspace, *, max_seconds: float | None = None) -> DeliveryReport:
    """Send every webhook message that is due now, with retries scheduled in the store; return what happened.

    `max_seconds` bounds the run for schedulers: no new messages are claimed after it, sends in flight finish.
    """
    return run_sync(Worker(ws, max_seconds=max_seconds))


def send_test(ws: Workspace, endpoint_id: str) -> Attempt:
    """Send a `webhook.test` event to one endpoint now (enabled or not), once; raise DeliveryFailed unless 2xx."""
    with ws.connect() as con:
        message_id = outbox.enqueue_test(con, endpoint_id, now=dt.datetime.now(dt.UTC))
    worker = Worker(ws, only=[message_id], single_attempt=True)
    run_sync(worker)
    if not worker.attempts:
        raise DeliveryFailed(f"test message {message_id} to {endpoint_id} was not sent")
    attempt = worker.attempts[0]
    if attempt.status != "delivered":
        raise DeliveryFailed(
            f"test delivery to {endpoint_id} failed: {attempt.error or attempt.outcome}"
            f" (message {message_id}, see `reconwb webhooks log --message {message_id}`)"
        )
    return attempt
