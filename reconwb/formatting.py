"""Numbers for people: money, shares, counts, dates and ages as the workspace's `locale` setting writes them.

Every panel and dashboard formats through this module, so one setting changes every screen and no panel invents
its own separators. Formatting is Babel's (CLDR patterns: `1,234.50 €` in de_DE, `€1,234.50` in en_US). The
number of decimals is NOT CLDR's but ISO 4217's, from `reconwb.money.exponent` (CLDR's display digits differ for
HUF, IDR, COP...): JPY shows none, KWD three. An amount is a Decimal in and exact text out: a sum that carries
more decimals than its currency has keeps them rather than being rounded into a different number.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from reconwb import money
from reconwb.errors import InvalidInput

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

def check_locale(value: str) -> str:
    """`value` if Babel knows it as a locale (`en_US`, `de-CH`, `fr`), normalised to `de_CH`; else InvalidInput."""
    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise InvalidInput(f"unknown locale {value!r}; use a code such as en_US, en_GB, de_DE or fr_CH") from None


@lru_cache(maxsize=16)
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@dataclass(frozen=True)
class Formatter:
    """Formats for one locale; cheap to make, so a panel makes one per redraw (the setting may have changed)."""

    locale: str  # a Babel locale code; the workspace's is the `locale` setting (default in reconwb.settings)

    def money(self, value: Decimal | int | None, currency: str | None) -> str:
        """`value` in `currency` with the locale's symbol and separators, to ISO 4217's decimals; never a float
        (TypeError), never rounded."""
        if value is None:
            return ""
        if isinstance(value, float) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
        amount = Decimal(value)
        places = money.exponent(currency)
        quantum = Decimal(1).scaleb(-places)
        if amount == amount.quantize(quantum):
            amount = amount.quantize(quantum)
        loc = _locale(self.locale)
        pattern = copy.copy(loc.currency_formats["standard"])
        pattern.frac_prec = (places, places)
        code = (currency or "").strip().upper() or "XXX"
        return pattern.apply(amount, loc, currency=code, currency_digits=False, decimal_quantization=False)

    def share(self, part: Decimal | int, whole: Decimal | int) -> str:
        """`part` of `whole` in percent with one decimal (`82.4%`); a dash when there is no whole."""
        if not whole:
            return "–"
        ratio = Decimal(part) / Decimal(whole)
        return format_percent(ratio, "#,##0.0%", locale=_locale(self.locale))

    def count(self, value: int | None) -> str:
        """A whole number with the locale's grouping (`12,345`)."""
        return format_decimal(int(value or 0), locale=_locale(self.locale))

    def date(self, value: dt.date | dt.datetime | None) -> str:
        """A day as the locale writes it briefly (`Mar 4, 2026`); blank for none."""
        if value is None:
            return ""
        return format_date(value.date() if isinstance(value, dt.datetime) else value, "medium",
                           locale=_locale(self.locale))

    def moment(self, value: dt.datetime | None) -> str:
        """A time stamp to the minute in UTC (`Mar 4, 2026 14:05 UTC`); blank for none."""
        if value is None:
            return ""
        utc = value.astimezone(dt.UTC) if value.tzinfo else value
        return f"{self.date(utc)} {utc:%H:%M} UTC"


def age(days: int | None) -> str:
    """How old, in words: `today`, `1 day`, `12 days`."""
    if days is None:
        return ""
    if days <= 0:
        return "today"
    return "1 day" if days == 1 else f"{days} days"


def for_workspace(ws: Workspace) -> Formatter:
    """The formatter for the workspace's `locale` setting."""
    from reconwb import settings

    with ws.connect(read_only=True) as con:  # read beside others' reads (a dashboard kernel's prefetch)
        return Formatter(settings.get(con, "locale"))
