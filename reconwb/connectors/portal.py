"""What every bank-portal connector shares: one browser, a context per connection, careful page handling.

A portal connector only says how its bank's pages look (selectors, date and number formats) and how to read
them. This module does the rest the same way for every bank:

- one Chromium per run, shared through `FetchContext.resources`, and one browser context per connection, so
  cookies never cross between logins;
- `one-shot` sessions log out at the end; `persistent` ones hand their storage state back to `reconwb.sync`,
  which seals it in the vault with an expiry, and try it before typing a password again;
- navigation retried with backoff when a page is slow or answers 5xx (never a login submission: a retried
  password could count as a second failed attempt);
- what the bank shows after a login is classified into the failure taxonomy; a page the connector does not
  recognise is `SiteChanged` (the connector needs an update), never a password error;
- on failure, a screenshot (inputs masked) and the page's HTML (redacted) ride on the exception as
  `err.diagnostics`, which `reconwb.sync` saves with the run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import re
import threading
from collections.abc import Coroutine
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from reconwb.browser import launch_options
from reconwb.connectors import errors
from reconwb.connectors.base import AccountInfo, Connector, FetchContext
from reconwb.connectors.resources import add_closer, release
from reconwb.redaction import redact
from reconwb.transactions import Txn

T = TypeVar("T")
BROWSER = "portal.browser"
_BROWSER_LOCK = "portal.browser_lock"


async def shared_browser(resources: dict[str, Any]) -> Browser:
    """The run's Chromium, started on first use and closed when the resources are released."""
    lock = resources.setdefault(_BROWSER_LOCK, asyncio.Lock())
    async with lock:
        browser = resources.get(BROWSER)
        if browser is None or not browser.is_connected():
            options = await asyncio.to_thread(launch_options)
            playwright = await async_playwright().start()
            browser = await playwright.chromium.launch(**options)
            resources[BROWSER] = browser
            add_closer(resources, playwright.stop)
            add_closer(resources, browser.close)
        return browser


class BrowserHost:
    """One Chromium on its own event-loop thread, kept across many fetches.

    Playwright objects belong to the loop that made them, while `reconwb.sync.sync()` starts a loop per call.
    A notebook, the demo or a test session that fetches again and again uses a host instead:
    `host.run(sync.sync_async(ws, name, resources=host.resources))`.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.resources: dict[str, Any] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, name="reconwb-browser", daemon=True)
        self._thread.start()
        self.run(shared_browser(self.resources))

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the host's loop; the caller may wait for the result later."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def close(self) -> None:
        self.run(release(self.resources))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> BrowserHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_amount(text: str, *, decimal_comma: bool = False) -> Decimal:
    """An exact amount from what a page shows ("1,234.56", "-1.234,56 EUR", "(12.00)")."""
    cleaned = re.sub(r"[^\d,.\-()]", "", text)
    negative = cleaned.startswith("-") or cleaned.startswith("(")
    cleaned = cleaned.strip("-()")
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise errors.SiteChanged(f"cannot read the amount {text!r}") from None
    return -value if negative else value


def parse_date(text: str, fmt: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        raise errors.SiteChanged(f"cannot read the date {text!r} (expected {fmt})") from None


class PortalConnector(Connector):
    """Base of the bank-portal connectors. Subclasses fill in the selectors and the `read_*`/`submit_*` steps."""

    login_modes = ("simple", "assisted")
    history_days = 90
    default_url: ClassVar[str | None] = None
    page_timeout_ms: ClassVar[int] = 15_000
    page_tries: ClassVar[int] = 4
    backoff_seconds: ClassVar[float] = 0.25
    session_ttl: ClassVar[dt.timedelta] = dt.timedelta(minutes=20)
    accounts_path: ClassVar[str] = "accounts"
    login_path: ClassVar[str] = "login"
    logout_path: ClassVar[str] = "logout"
    # what the bank shows after a login attempt; `outcome()` checks them in this order
    outcomes: ClassVar[dict[str, str]] = {}

    def __init__(self, ctx: FetchContext) -> None:
        super().__init__(ctx)
        self.context: BrowserContext | None = None
        self._page: Page | None = None
        self.logged_in = False
        self.retries = 0  # pages fetched again after a slow answer or a 5xx

    # -- what subclasses implement --------------------------------------------------------------------------
    async def submit_login(self, username: str, password: str) -> None:
        raise NotImplementedError

    async def read_accounts(self) -> list[AccountInfo]:
        raise NotImplementedError

    async def read_transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        raise NotImplementedError

    async def submit_otp(self, code: str) -> None:
        await self.fill("#otp", code, "the one-time code field")
        await self.submit("#otp-submit", "the one-time code button")

    # -- the Connector interface ----------------------------------------------------------------------------
    async def login(self) -> None:
        await self._diagnosed(self._login())

    async def accounts(self) -> list[AccountInfo]:
        return await self._diagnosed(self.read_accounts())

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        return await self._diagnosed(self.read_transactions(account, since))

    async def close(self) -> None:
        if self.context is None:
            return
        try:
            if self.logged_in and self.ctx.session_mode == "persistent":
                expires = dt.datetime.now(dt.UTC) + self.session_ttl
                self.ctx.state = {"storage_state": await self.context.storage_state(),
                                  "expires_at": expires.isoformat()}
            elif self.logged_in:  # log out with the session's cookies, without rendering another page
                await self.context.request.get(self.url(self.logout_path), timeout=self.page_timeout_ms)
        finally:
            await self.context.close()
            self.context = None

    # -- helpers for subclasses -----------------------------------------------------------------------------
    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError("the connector has no page yet: login() first")
        return self._page

    def url(self, path: str) -> str:
        base = (self.ctx.base_url or self.default_url or "").rstrip("/")
        if not base:
            raise errors.SiteChanged(f"{self.ctx.connection_name}: no portal URL configured (connections add"
                                     " --portal-url)")
        return f"{base}/{path.lstrip('/')}"

    async def goto(self, path_or_url: str) -> None:
        """Open a page, again after a backoff when it is slow or answers 5xx; maintenance is BankUnavailable."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        problem = ""
        for attempt in range(self.page_tries):
            try:
                response = await self.page.goto(url, timeout=self.page_timeout_ms, wait_until="domcontentloaded")
            except PlaywrightTimeout:
                problem = f"no answer within {self.page_timeout_ms} ms"
            except PlaywrightError as err:
                if "net::" not in str(err):
                    raise
                problem = str(err).splitlines()[0]
            else:
                status = response.status if response is not None else 200
                if status < 500:
                    return
                await self._raise_if_maintenance()
                problem = f"HTTP {status}"
            self.retries += 1
            if attempt + 1 < self.page_tries:
                await asyncio.sleep(self.backoff_seconds * 2**attempt)
        raise errors.Transient(f"{urlsplit(url).path}: {problem} after {self.page_tries} tries")

    async def ensure(self, selector: str, what: str, *, timeout_ms: int | None = None) -> None:
        """Wait for `selector`; when it never comes, say why: session gone, maintenance, or a changed site."""
        try:
            await self.page.wait_for_selector(selector, state="attached",
                                              timeout=timeout_ms if timeout_ms is not None else 5_000)
        except PlaywrightTimeout:
            await self._raise_if_maintenance()
            if self.outcomes.get("login_form") and await self.present(self.outcomes["login_form"]):
                raise errors.Transient(f"the bank ended the session before {what} could be read") from None
            raise errors.SiteChanged(f"{what} not found ({selector}) on {urlsplit(self.page.url).path}") from None

    async def present(self, selector: str) -> bool:
        return await self.page.locator(selector).count() > 0

    async def fill(self, selector: str, value: str, what: str) -> None:
        try:
            await self.page.fill(selector, value, timeout=5_000)
        except PlaywrightTimeout:
            await self.ensure(selector, what, timeout_ms=1)  # names the reason
            raise

    async def submit(self, selector: str, what: str) -> None:
        """Click what submits a form and wait for the page it leads to. Never retried (see module doc)."""
        await self.ensure(selector, what, timeout_ms=5_000)
        try:
            async with self.page.expect_navigation(timeout=self.page_timeout_ms, wait_until="domcontentloaded") as nav:
                await self.page.click(selector, timeout=self.page_timeout_ms)
            response = await nav.value
        except PlaywrightTimeout:
            raise errors.Transient(f"the bank did not answer {what} within {self.page_timeout_ms} ms") from None
        if response is not None and response.status >= 500:
            await self._raise_if_maintenance()
            raise errors.Transient(f"the bank answered {what} with HTTP {response.status}")

    async def read_page(
        self, container: str, rows: str, script: str, what: str, next_link: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The rows of a list page and the URL of its next page, read in one round trip to the browser.

        `script` is a JS function of the row elements (those matching `rows` inside `container`) returning
        plain objects. A missing container is waited for once, then reported as a changed site.
        """
        code = (
            "([container, rows, next]) => { const root = document.querySelector(container);"
            " if (!root) return null; const link = next ? document.querySelector(next) : null;"
            f" return {{rows: ({script})(Array.from(root.querySelectorAll(rows))),"
            " next: link ? link.href : null}; }"
        )
        for first in (True, False):
            try:
                found = await self.page.evaluate(code, [container, rows, next_link])
            except PlaywrightError as err:
                raise errors.SiteChanged(f"{what}: the rows no longer have the expected cells: {err}") from None
            if found is not None:
                return found["rows"], found["next"]
            if first:
                await self.ensure(container, what)
        raise errors.SiteChanged(f"{what} not found ({container})")

    async def on_page(self, path: str) -> bool:
        """Whether the browser already shows `path` (saves a navigation after the login redirect)."""
        return urlsplit(self.page.url).path.rstrip("/").endswith("/" + path.strip("/"))

    # -- login ----------------------------------------------------------------------------------------------
    async def _login(self) -> None:
        browser = await shared_browser(self.ctx.resources)
        storage = self.ctx.state.get("storage_state") if self.ctx.session_mode == "persistent" else None
        self.context = await browser.new_context(storage_state=storage, locale="en-US",
                                                 viewport={"width": 1100, "height": 800})
        self._page = await self.context.new_page()
        if storage and await self._resume():
            return
        await self.goto(self.login_path)  # a maintenance page answers 503: BankUnavailable from goto
        password = self.ctx.credentials.get("password", "")
        await self.submit_login(self.ctx.username or "", password)
        outcome = await self.outcome()
        if outcome == "otp":
            outcome = await self._second_factor()
        self._raise_for(outcome)
        self.logged_in = True

    async def _resume(self) -> bool:
        """Try the stored session: are we still logged in?"""
        await self.goto(self.accounts_path)
        if await self.outcome() == "ok":
            self.logged_in = True
            return True
        return False

    async def outcome(self) -> str | None:
        """Which known page the bank shows now: ok, otp, otp_rejected, expired, locked, invalid, ..."""
        union = ", ".join(self.outcomes.values())
        try:
            await self.page.wait_for_selector(union, state="attached", timeout=5_000)
        except PlaywrightTimeout:
            return None
        return await self.page.evaluate(
            "pairs => { for (const [name, sel] of pairs) { if (document.querySelector(sel)) return name; }"
            " return null; }",
            list(self.outcomes.items()),
        )

    async def _second_factor(self) -> str | None:
        if self.ctx.login_mode != "assisted" or self.ctx.ask_otp is None:
            raise errors.OtpRequired("the bank asks for a one-time code at login: use assisted login mode so a"
                                     " person can enter it")
        screenshot = await self.page.screenshot(full_page=True)
        prompt = (await self.page.inner_text("body"))[:500]
        code = await self.ctx.ask_otp(screenshot, redact(prompt))
        await self.submit_otp(code)
        return await self.outcome()

    def _raise_for(self, outcome: str | None) -> None:
        if outcome == "ok":
            return
        if outcome == "invalid":
            raise errors.InvalidCredentials("the bank rejected the username or password")
        if outcome == "expired":
            raise errors.PasswordExpired("the bank says the password has expired: change it in the bank's portal,"
                                         " then update the credentials")
        if outcome == "locked":
            raise errors.AccountLocked("the bank has locked this login; only the account holder can unlock it")
        if outcome == "otp_rejected":
            raise errors.OtpRejected("the bank rejected the one-time code")
        if outcome == "otp":
            raise errors.OtpRejected("the bank asked for a one-time code again after the code was entered")
        if outcome == "maintenance":
            raise errors.BankUnavailable("the bank's portal is in maintenance")
        if outcome == "session":
            raise errors.Transient("the bank's login page timed out; trying again is safe")
        if outcome == "login_form":
            raise errors.SiteChanged("the bank showed the login form again without a recognised message")
        raise errors.SiteChanged(f"after login the bank showed a page the connector does not know"
                                 f" ({urlsplit(self.page.url).path})")

    async def _raise_if_maintenance(self) -> None:
        selector = self.outcomes.get("maintenance")
        if selector and self._page is not None and await self.present(selector):
            raise errors.BankUnavailable("the bank's portal is in maintenance")

    # -- diagnostics ----------------------------------------------------------------------------------------
    async def _diagnosed(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return await coro
        except errors.OtpRequired:
            raise
        except PlaywrightTimeout as err:
            failure: BaseException = errors.SiteChanged(f"the page did not show what the connector waits for: {err}")
            await self._attach_diagnostics(failure)
            raise failure from None
        except Exception as err:
            await self._attach_diagnostics(err)
            raise

    async def _attach_diagnostics(self, err: BaseException) -> None:
        if self._page is None or self._page.is_closed():
            return
        files: dict[str, bytes] = {}
        try:
            files["page.png"] = await self._page.screenshot(full_page=True, mask=[self._page.locator("input")],
                                                            timeout=5_000)
        except PlaywrightError:
            pass
        try:
            files["page.html"] = redact(await self._page.content()).encode("utf-8")
        except PlaywrightError:
            pass
        files["url.txt"] = redact(self._page.url).encode("utf-8")
        err.diagnostics = files  # type: ignore[attr-defined]
