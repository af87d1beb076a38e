from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconwb import settings
from reconwb.errors import InvalidInput
from reconwb.formatting import Formatter, age, check_locale, for_workspace


@pytest.mark.parametrize(("locale", "amount", "currency", "shown"), [
    ("en_US", "677835.40", "EUR", "€677,835.40"),
    ("en_US", "677835.400", "USD", "$677,835.40"),  # the store's third decimal, unused
    ("de_DE", "-677835.4", "EUR", "-677.835,40\xa0€"),
    ("en_US", "1234567", "JPY", "¥1,234,567"),  # ISO 4217: no minor unit
    ("en_US", "1234.125", "KWD", "KWD1,234.125"),
    ("en_US", "0.005", "EUR", "€0.005"),  # a sum with a third decimal is shown, never rounded away
    ("fr_CH", "12.5", "XYZ", "12,50\xa0XYZ"),  # a code ISO 4217 does not list: cents
])
def test_money_is_exact_with_the_locales_separators(locale, amount, currency, shown) -> None:
    assert Formatter(locale).money(Decimal(amount), currency) == shown


def test_money_refuses_floats_and_blanks_nothing() -> None:
    with pytest.raises(TypeError):
        Formatter("en_US").money(1.1, "EUR")  # type: ignore[arg-type]
    assert Formatter("en_US").money(None, "EUR") == ""


def test_share_count_date_and_age() -> None:
    fmt = Formatter("en_US")
    assert fmt.share(Decimal("100"), Decimal("161.34")) == "62.0%" and fmt.share(1, 0) == "–"
    assert fmt.count(12345) == "12,345" and Formatter("de_DE").count(12345) == "12.345"
    assert fmt.date(dt.date(2026, 3, 4)) == "Mar 4, 2026"
    assert fmt.moment(dt.datetime(2026, 3, 4, 14, 5, tzinfo=dt.UTC)) == "Mar 4, 2026 14:05 UTC"
    assert (age(0), age(1), age(40)) == ("today", "1 day", "40 days")


def test_locale_setting_is_checked_and_normalised(ws) -> None:
    assert check_locale("de-CH") == "de_CH"
    with ws.connect() as con:
        assert settings.get(con, "locale") == "en_US"
        with pytest.raises(InvalidInput, match="unknown locale"):
            settings.set_value(con, "locale", "xx_NOPE")
        settings.set_value(con, "locale", "fr-CH")
    assert for_workspace(ws).locale == "fr_CH"
