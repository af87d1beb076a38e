"""JSON for payloads that hold money and dates: Decimal stays exact (as a string), dates are ISO."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from reconwb import money


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money.display(value)  # exact; the store's 10.000 is shown 10.00
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, default=_default, **kwargs)
